"""Which of the business's languages a text is written in, with lingua.

One detector per process, built on first use (lingua's low-accuracy mode: trigram
models only, about 11 MB and a millisecond or less per text, where the high-accuracy
models take over 100 MB per worker process for a gain of one message in 349 on the
sample inbox).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

_LANGUAGES: dict[str, Language] = {
    "es": Language.SPANISH,
    "pt": Language.PORTUGUESE,
    "en": Language.ENGLISH,
}
_CODES = {lang: code for code, lang in _LANGUAGES.items()}
_lock = threading.Lock()
_detector: LanguageDetector | None = None


@dataclass(frozen=True)
class Detection:
    """The most likely language (None when lingua cannot tell) and every confidence."""

    language: str | None
    confidence: float
    scores: dict[str, float]


def detector() -> LanguageDetector:
    """The process's detector, built once, lazily (thread-safe)."""
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                _detector = (
                    LanguageDetectorBuilder.from_languages(*_LANGUAGES.values())
                    .with_low_accuracy_mode()
                    .build()
                )
    return _detector


@lru_cache(maxsize=512)
def detect(text: str) -> Detection:
    """The language of `text` among es, pt and en."""
    values = detector().compute_language_confidence_values(text)
    scores = {_CODES[v.language]: round(v.value, 3) for v in values if v.language in _CODES}
    if not values or values[0].value <= 0:
        return Detection(language=None, confidence=0.0, scores=scores)
    top = values[0]
    return Detection(language=_CODES.get(top.language), confidence=top.value, scores=scores)


def supported(code: str | None) -> bool:
    return code in _LANGUAGES
