"""Reading the models' answers: the classifier's JSON, in the shapes real models give it.

Real models wrap the object in prose or code fences, capitalise labels ("Pricing",
"Course Info"), name the language ("Spanish", "pt-BR"), send numbers as strings or
percentages, and add keys. All of that is read as a person would read it; what still
cannot be used (no object, an intent outside the policy, a confidence that is not a
finite number) raises `ValueError`, which the caller treats as an unusable answer.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

_DECODER = json.JSONDecoder()
_INTENT_KEYS = ("intent", "label", "category", "intención", "intencao", "intenção")
_LANGUAGE_KEYS = ("language", "lang", "idioma", "locale")
_CONFIDENCE_KEYS = ("confidence", "score", "probability", "confianza", "confiança")
_LANGUAGES = {
    "es": "es", "spa": "es", "spanish": "es", "espanol": "es", "castellano": "es",
    "pt": "pt", "por": "pt", "portuguese": "pt", "portugues": "pt",
    "en": "en", "eng": "en", "english": "en", "ingles": "en",
}  # fmt: skip
_SEPARATORS = re.compile(r"[\s\-/.]+")
_EDGES = re.compile(r"^[^\w]+|[^\w]+$")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _objects(raw: str) -> list[dict[str, Any]]:
    """Every JSON object in `raw`, in order (prose, fences and other text skipped)."""
    found: list[dict[str, Any]] = []
    index = raw.find("{")
    while index >= 0:
        try:
            value, end = _DECODER.raw_decode(raw, index)
        except ValueError:
            index = raw.find("{", index + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        index = raw.find("{", end)
    return found


def _field(data: dict[str, Any], names: tuple[str, ...]) -> Any:
    folded = {_fold(str(k)): v for k, v in data.items()}
    for name in names:
        if _fold(name) in folded:
            return folded[_fold(name)]
    return None


def normalise_intent(value: object, intents: tuple[str, ...]) -> str | None:
    """`" Course Info."` -> `course_info` when the policy has it; None otherwise."""
    if not isinstance(value, str):
        return None
    label = _SEPARATORS.sub("_", _EDGES.sub("", _fold(value)))
    by_folded = {_fold(i): i for i in intents}
    return by_folded.get(label)


def normalise_language(value: object) -> str | None:
    """`"Spanish"`, `"es-ES"`, `"PT_br"` -> `es`, `es`, `pt`; anything else None."""
    if not isinstance(value, str):
        return None
    folded = _EDGES.sub("", _fold(value))
    return _LANGUAGES.get(folded) or _LANGUAGES.get(re.split(r"[-_\s]", folded)[0])


def parse_confidence(value: object) -> float:
    """A finite number in [0, 1]: `0.85`, `"0.85"`, `"85%"` and `85` all read 0.85.

    Raises:
        ValueError: not a number, or NaN or infinite.
    """
    if value is None:
        return 0.0  # no confidence given: as unsure as can be (it escalates)
    if isinstance(value, bool):
        raise ValueError("confidence is a boolean")
    percent = isinstance(value, str) and value.strip().endswith("%")
    try:
        number = float(value.strip().rstrip("%") if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError("confidence is not a number") from exc
    if not math.isfinite(number):
        raise ValueError("confidence is not finite")
    if percent or 1.0 < number <= 100.0:
        number /= 100.0
    return min(max(number, 0.0), 1.0)


def parse_classification(raw: str, *, intents: tuple[str, ...]) -> tuple[str, str | None, float]:
    """The first JSON object in `raw` that names a known intent: (intent, language or
    None, confidence).

    Raises:
        ValueError: no object names a known intent, or its confidence is unusable.
    """
    objects = _objects(raw)
    if not objects:
        raise ValueError("no JSON object in classification")
    for data in objects:
        intent = normalise_intent(_field(data, _INTENT_KEYS), intents)
        if intent is None:
            continue
        language = normalise_language(_field(data, _LANGUAGE_KEYS))
        return intent, language, parse_confidence(_field(data, _CONFIDENCE_KEYS))
    raise ValueError(f"no known intent in {len(objects)} JSON object(s)")
