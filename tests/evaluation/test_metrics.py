"""Scoring predictions: accuracy per language and label, confusions, cost, latency."""

from __future__ import annotations

from decimal import Decimal

from app.evaluation import Prediction, score


def _p(label: str, predicted: str | None, language: str, latency_ms: float) -> Prediction:
    return Prediction(
        label=label,
        language=language,
        predicted=predicted,
        confidence=0.9 if predicted else None,
        tier="fast",
        provider="anthropic" if predicted else None,
        model="claude-haiku-4-5" if predicted else None,
        cost_usd=Decimal("0.000100") if predicted else Decimal(0),
        latency_ms=latency_ms,
        error=None if predicted else "unavailable",
    )


def test_accuracy_confusions_cost_and_latency_match_a_hand_count() -> None:
    predictions = [
        _p("pricing", "pricing", "es", 10),
        _p("pricing", "enrollment", "es", 20),
        _p("pricing", "enrollment", "pt", 30),
        _p("schedule", "schedule", "pt", 40),
        _p("schedule", None, "en", 50),
    ]
    report = score(predictions, intents=("pricing", "schedule", "enrollment"))
    assert (report.overall.examples, report.overall.correct) == (5, 2)
    assert report.overall.accuracy == 0.4
    assert {k: (s.examples, s.correct) for k, s in report.by_language.items()} == {
        "en": (1, 0),
        "es": (2, 1),
        "pt": (2, 1),
    }
    pricing = report.by_label["pricing"]
    assert (pricing.support, pricing.correct, pricing.predicted) == (3, 1, 1)
    assert pricing.recall == 1 / 3 and pricing.precision == 1.0
    assert report.by_label["schedule"].recall == 0.5
    assert report.confusions == [
        ("pricing", "enrollment", 2),
        ("schedule", "(no answer)", 1),
    ]
    assert report.errors == {"unavailable": 1}
    assert report.cost_usd == Decimal("0.000400")
    assert (report.latency_p50_ms, report.latency_p95_ms) == (30, 50)
    assert report.unknown_labels == []


def test_labels_outside_the_policy_intents_are_named() -> None:
    report = score([_p("card_arrival", "other", "en", 1)], intents=("other",))
    assert report.unknown_labels == ["card_arrival"]
    assert report.as_dict()["accuracy"] == 0.0
