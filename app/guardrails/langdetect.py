"""Which of the business's languages a text is written in, with lingua.

One detector per process, built on first use (lingua's low-accuracy mode: trigram
models only, about 8 MiB and a millisecond or less per text, where the high-accuracy
models take over 100 MB per worker process for a gain of one message in 349 on the
sample inbox). lingua itself is imported then too, so processes that never check a
text (web, beat) never load it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import Language, LanguageDetector

# code -> lingua's `Language` member name
_LANGUAGES = {"es": "SPANISH", "pt": "PORTUGUESE", "en": "ENGLISH"}
_lock = threading.Lock()
_detector: LanguageDetector | None = None
_codes: dict[Language, str] = {}


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
                from lingua import Language, LanguageDetectorBuilder

                languages = {code: getattr(Language, name) for code, name in _LANGUAGES.items()}
                _codes.update({lang: code for code, lang in languages.items()})
                _detector = (
                    LanguageDetectorBuilder.from_languages(*languages.values())
                    .with_low_accuracy_mode()
                    .build()
                )
    return _detector


@lru_cache(maxsize=512)
def detect(text: str) -> Detection:
    """The language of `text` among es, pt and en."""
    values = detector().compute_language_confidence_values(text)
    scores = {_codes[v.language]: round(v.value, 3) for v in values if v.language in _codes}
    if not values or values[0].value <= 0:
        return Detection(language=None, confidence=0.0, scores=scores)
    top = values[0]
    return Detection(language=_codes.get(top.language), confidence=top.value, scores=scores)


def supported(code: str | None) -> bool:
    return code in _LANGUAGES
