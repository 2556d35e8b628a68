"""The local tier's decision for one message: answer it here, or leave it to the LLM."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import sentry_sdk

from app.localtier.errors import ModelFileError
from app.localtier.store import cached_model
from app.policy import Policy

log = logging.getLogger("keel.localtier")
_alerted: set[str] = set()  # errors this process already alerted on
_alerted_lock = threading.Lock()


@dataclass(frozen=True)
class LocalAnswer:
    """A classification the local model is sure enough of to skip the LLM call."""

    intent: str
    confidence: float
    model_name: str


def classify_locally(*, policy: Policy, text: str) -> LocalAnswer | None:
    """The local model's answer when one is configured, it names a policy intent and
    its confidence reaches the threshold (the policy's, else the model's own); else None.

    A model file that is missing, altered (its sidecar's or the policy's pinned SHA-256
    differs) or unreadable answers nothing: the message goes to the classify tier, and
    the process alerts once per error (log and Sentry), never dead-letters it.
    """
    path = policy.routing.local_model
    if not path:
        return None
    try:
        model = cached_model(path, pinned_sha256=policy.routing.local_model_sha256)
    except ModelFileError as exc:
        _alert_once(exc)
        return None
    label, confidence = model.predict(text)
    if label not in policy.routing.intents:
        return None
    if not model.answers(confidence, min_confidence=policy.routing.local_min_confidence):
        return None
    return LocalAnswer(intent=label, confidence=confidence, model_name=Path(path).name)


def _alert_once(exc: ModelFileError) -> None:
    with _alerted_lock:
        if str(exc) in _alerted:
            return
        _alerted.add(str(exc))
    log.error("local model not used; classifying with the LLM tier", extra={"error": str(exc)})
    sentry_sdk.capture_message(f"local tier off: {exc}", level="error")
