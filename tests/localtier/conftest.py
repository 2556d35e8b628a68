"""Small labeled samples of Banking77 and MASSIVE (CC BY 4.0, see data/README.md)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from app.evaluation import LabeledExample, read_labeled
from app.localtier import LocalModel
from app.localtier.train import train_model

DATA = Path(__file__).with_name("data")
BANKING = DATA / "banking77_sample.csv"
MASSIVE = DATA / "massive_sample.csv"


def split(
    examples: list[LabeledExample], *, held_share: float, by_group: bool = False
) -> tuple[list[LabeledExample], list[LabeledExample]]:
    """A seeded split, by row or by group (utterance id)."""
    rng = random.Random(0)
    if by_group:
        groups = sorted({e.group or "" for e in examples})
        rng.shuffle(groups)
        held = set(groups[: round(len(groups) * held_share)])
        return [e for e in examples if e.group not in held], [
            e for e in examples if e.group in held
        ]
    shuffled = list(examples)
    rng.shuffle(shuffled)
    cut = round(len(shuffled) * (1 - held_share))
    return shuffled[:cut], shuffled[cut:]


@pytest.fixture(scope="session")
def banking_model() -> LocalModel:
    """A model on the Banking77 sample (every row): fast to train, twelve labels."""
    examples = read_labeled(BANKING)
    return train_model([e.text for e in examples], [e.label for e in examples])
