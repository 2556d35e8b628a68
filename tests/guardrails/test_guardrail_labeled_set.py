"""The labelled set: 200+ drafts written for the example school (es/pt/en, good and bad).
Every bad draft is caught, by the check its label names; under 2 % of good ones block."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from app.guardrails import blocked, check_draft
from app.policy import load_policy

DATA = Path(__file__).parent / "data" / "drafts.jsonl"
POLICY = load_policy()


def drafts() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line.strip()]


def blocking_checks(row: dict[str, Any]) -> set[str]:
    verdicts = check_draft(
        row["text"], policy=POLICY, channel=row["channel"], language=row["language"]
    )
    return {v.check for v in blocked(verdicts)}


def test_the_set_has_200_drafts_good_and_bad_in_each_language() -> None:
    rows = drafts()

    assert len(rows) >= 200
    assert {(r["language"], r["bad"]) for r in rows} == {
        (lang, bad) for lang in ("es", "pt", "en") for bad in (True, False)
    }
    assert all(set(r) == {"text", "language", "channel", "bad", "why"} for r in rows)


def test_every_bad_draft_is_caught_by_the_check_its_label_names() -> None:
    missed = [
        (r["why"], r["text"][:60])
        for r in drafts()
        if r["bad"] and r["why"].split(":")[0] not in blocking_checks(r)
    ]

    assert missed == []


def test_under_two_percent_of_good_drafts_are_blocked() -> None:
    good = [r for r in drafts() if not r["bad"]]
    false_blocks = Counter(c for r in good for c in blocking_checks(r))
    blocked_good = [r for r in good if blocking_checks(r)]

    assert len(blocked_good) / len(good) < 0.02, false_blocks
