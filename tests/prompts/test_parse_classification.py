"""The classifier's answer read as real models give it (issue 13): capitalised labels,
prose and fences, numbers as strings, extra keys; unusable values refused."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.policy import load_policy
from app.prompts import parse_classification
from app.prompts.parse import normalise_language, parse_confidence

INTENTS = load_policy(None).routing.intents


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"intent": "pricing", "language": "es", "confidence": 0.9}', ("pricing", "es", 0.9)),
        ('{"intent": "Pricing", "language": "ES", "confidence": "0.9"}', ("pricing", "es", 0.9)),
        ('{"Intent": " PRICING. ", "Language": "Spanish", "Confidence": "90%"}',
         ("pricing", "es", 0.9)),
        ('Sure! Here is the classification:\n```json\n{"intent": "course_info", '
         '"language": "pt-BR", "confidence": 0.82, "reasoning": "asks about {levels}"}\n```',
         ("course_info", "pt", 0.82)),
        ('{"intent": "Course Info", "language": "English", "confidence": 85}',
         ("course_info", "en", 0.85)),
        ('{"intent": "refund-request", "confidence": 0.7}', ("refund_request", None, 0.7)),
        ('{"note": "first object is not it"} then {"intent": "thanks", "confidence": 1}',
         ("thanks", None, 1.0)),
        ('{"intent": "pricing"}', ("pricing", None, 0.0)),
    ],
)  # fmt: skip
def test_real_model_shapes_are_read_as_a_person_would(
    raw: str, expected: tuple[str, str | None, float]
) -> None:
    intent, language, confidence = parse_classification(raw, intents=INTENTS)
    assert (intent, language) == expected[:2]
    assert confidence == pytest.approx(expected[2])


@pytest.mark.parametrize(
    "raw",
    [
        "banana",
        "Pricing",  # a bare label is not an answer to the format asked for
        '{"intent": "banana", "confidence": 0.9}',
        '{"intent": "pricing", "confidence": NaN}',
        '{"intent": "pricing", "confidence": Infinity}',
        '{"intent": "pricing", "confidence": "NaN"}',
        '{"intent": "pricing", "confidence": "very sure"}',
        '{"intent": "pricing", "confidence": true}',
        '["pricing", 0.9]',
        "{not json at all}",
    ],
)
def test_an_unusable_answer_raises_value_error(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_classification(raw, intents=INTENTS)


def test_languages_are_read_from_names_and_tags() -> None:
    assert [normalise_language(v) for v in ("es", "Español", "pt_BR", "EN-us", "fr")] == [
        "es", "es", "pt", "en", None,
    ]  # fmt: skip


def test_confidence_is_clamped_and_percentages_are_read() -> None:
    assert parse_confidence("85 %") == pytest.approx(0.85)
    assert parse_confidence(-3) == 0.0 and parse_confidence(250) == 1.0
    for bad in (math.nan, math.inf, -math.inf, "inf"):
        with pytest.raises(ValueError):
            parse_confidence(bad)


_WRAPS = st.sampled_from(
    ["{}", "```json\n{}\n```", "Here you go: {} Hope it helps!", "```\n{}\n```\n\nReasoning: x",
     "  {}  ", "Classification result -> {}"]
)  # fmt: skip
_CASES = st.sampled_from([str.lower, str.upper, str.title, lambda s: s.replace("_", " ")])


@given(
    intent=st.sampled_from(INTENTS),
    case=_CASES,
    wrap=_WRAPS,
    confidence=st.floats(0, 1),
    as_text=st.booleans(),
    extra=st.dictionaries(st.sampled_from(["reason", "notes", "x"]), st.text(max_size=20)),
)
def test_any_wrapping_and_casing_of_a_known_intent_is_recovered(
    intent: str, case: object, wrap: str, confidence: float, as_text: bool, extra: dict[str, str]
) -> None:
    payload = {"intent": case(intent), "confidence": str(confidence) if as_text else confidence}  # type: ignore[operator]
    raw = wrap.replace("{}", json.dumps({**extra, **payload}), 1)
    found, _, read = parse_classification(raw, intents=INTENTS)
    assert found == intent
    assert read == pytest.approx(confidence)


@given(st.text(max_size=300))
def test_arbitrary_text_never_raises_anything_but_value_error(raw: str) -> None:
    with contextlib.suppress(ValueError):
        parse_classification(raw, intents=INTENTS)
