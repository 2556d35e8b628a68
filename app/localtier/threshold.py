"""Choosing the confidence threshold: the lowest one whose answers reach a precision.

Pure functions over (confidence, correct) pairs, so they are tested without a model.
Coverage is the share of messages answered at or above a threshold; precision is the
share of those answers that are right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CurvePoint:
    """Coverage and precision when every prediction at or above `threshold` is kept."""

    threshold: float
    answered: int
    coverage: float
    precision: float | None


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold (None: no threshold reaches the precision) and its figures."""

    threshold: float | None
    min_precision: float
    answered: int
    coverage: float
    precision: float | None


def _sorted_pairs(
    confidences: Sequence[float], correct: Sequence[bool]
) -> list[tuple[float, bool]]:
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct differ in length")
    return sorted(zip(confidences, correct, strict=True), key=lambda p: -p[0])


def choose_threshold(
    confidences: Sequence[float], correct: Sequence[bool], *, min_precision: float
) -> ThresholdChoice:
    """The lowest confidence at which the answers at or above it reach `min_precision`.

    Ties are kept together: a threshold answers every prediction with that confidence.
    """
    pairs = _sorted_pairs(confidences, correct)
    total = len(pairs)
    best: ThresholdChoice = ThresholdChoice(None, min_precision, 0, 0.0, None)
    right = 0
    for i, (confidence, ok) in enumerate(pairs):
        right += ok
        answered = i + 1
        if answered < total and pairs[answered][0] == confidence:
            continue  # a threshold cannot split a tie
        precision = right / answered
        if precision >= min_precision:
            best = ThresholdChoice(confidence, min_precision, answered, answered / total, precision)
    return best


def precision_coverage(
    confidences: Sequence[float], correct: Sequence[bool], thresholds: Sequence[float]
) -> list[CurvePoint]:
    """One point of the precision-coverage curve per threshold."""
    pairs = _sorted_pairs(confidences, correct)
    total = len(pairs)
    points = []
    for threshold in thresholds:
        kept = [ok for confidence, ok in pairs if confidence >= threshold]
        precision = sum(kept) / len(kept) if kept else None
        coverage = len(kept) / total if total else 0.0
        points.append(CurvePoint(threshold, len(kept), coverage, precision))
    return points
