"""Reading the models' answers: the classifier's JSON, however it is wrapped."""

from __future__ import annotations

import json


def parse_classification(raw: str, *, intents: tuple[str, ...]) -> tuple[str, str | None, float]:
    """Parse the classifier's JSON answer; tolerate code fences and surrounding prose.

    Raises:
        ValueError: no usable JSON object with a known intent.
    """
    start, end = raw.find("{"), raw.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in classification")
    data = json.loads(raw[start : end + 1])
    if not isinstance(data, dict):
        raise ValueError("classification is not an object")
    intent = data.get("intent")
    if intent not in intents:
        raise ValueError(f"unknown intent {intent!r}")
    language = data.get("language")
    if language not in ("es", "pt", "en"):
        language = None
    try:
        confidence = float(data.get("confidence", 0.0))
    except (TypeError, ValueError) as exc:
        raise ValueError("confidence is not a number") from exc
    return str(intent), language, min(max(confidence, 0.0), 1.0)
