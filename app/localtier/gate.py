"""The local tier's decision for one message: answer it here, or leave it to the LLM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.localtier.store import cached_model
from app.policy import Policy


@dataclass(frozen=True)
class LocalAnswer:
    """A classification the local model is sure enough of to skip the LLM call."""

    intent: str
    confidence: float
    model_name: str


def classify_locally(*, policy: Policy, text: str) -> LocalAnswer | None:
    """The local model's answer when one is configured, it names a policy intent and
    its confidence reaches the threshold (the policy's, else the model's own); else None.

    Raises:
        ModelFileError: the configured model file is missing or fails its hash check.
    """
    path = policy.routing.local_model
    if not path:
        return None
    model = cached_model(path)
    label, confidence = model.predict(text)
    if label not in policy.routing.intents:
        return None
    if not model.answers(confidence, min_confidence=policy.routing.local_min_confidence):
        return None
    return LocalAnswer(intent=label, confidence=confidence, model_name=Path(path).name)
