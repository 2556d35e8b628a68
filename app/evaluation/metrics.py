"""Scoring predictions against labels: accuracy overall, per language and per label,
the most frequent confusions, cost and latency. Pure functions over plain data."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.reporting.stats import percentile

NO_ANSWER = "(no answer)"


@dataclass(frozen=True)
class Prediction:
    """What the classify path answered for one labeled example (never its text)."""

    label: str
    language: str | None
    predicted: str | None
    confidence: float | None
    tier: str | None
    provider: str | None
    model: str | None
    cost_usd: Decimal
    latency_ms: float
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.predicted == self.label


@dataclass(frozen=True)
class Score:
    examples: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.examples if self.examples else None


@dataclass(frozen=True)
class LabelScore:
    """Recall (share of this label's examples predicted right) and precision."""

    support: int
    correct: int
    predicted: int

    @property
    def recall(self) -> float | None:
        return self.correct / self.support if self.support else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None


@dataclass
class EvalReport:
    overall: Score
    by_language: dict[str, Score] = field(default_factory=dict)
    by_label: dict[str, LabelScore] = field(default_factory=dict)
    by_tier: dict[str, Score] = field(default_factory=dict)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    cost_usd: Decimal = Decimal(0)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    unknown_labels: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def score(s: Score) -> dict[str, Any]:
            return {"examples": s.examples, "correct": s.correct, "accuracy": s.accuracy}

        return {
            "examples": self.overall.examples,
            "correct": self.overall.correct,
            "accuracy": self.overall.accuracy,
            "by_language": {k: score(v) for k, v in self.by_language.items()},
            "by_tier": {k: score(v) for k, v in self.by_tier.items()},
            "by_label": {
                k: {
                    "support": v.support,
                    "correct": v.correct,
                    "predicted": v.predicted,
                    "recall": v.recall,
                    "precision": v.precision,
                }
                for k, v in self.by_label.items()
            },
            "confusions": [{"label": t, "predicted": p, "count": n} for t, p, n in self.confusions],
            "errors": self.errors,
            "cost_usd": str(self.cost_usd),
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "unknown_labels": self.unknown_labels,
        }


def _scores(groups: dict[str, list[bool]]) -> dict[str, Score]:
    return {k: Score(len(v), sum(v)) for k, v in sorted(groups.items())}


def score(
    predictions: Sequence[Prediction], *, intents: Sequence[str] = (), top_confusions: int = 10
) -> EvalReport:
    """Every figure `keel eval` prints."""
    by_language: dict[str, list[bool]] = defaultdict(list)
    by_tier: dict[str, list[bool]] = defaultdict(list)
    support: Counter[str] = Counter()
    right: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    errors: Counter[str] = Counter()
    for p in predictions:
        by_language[p.language or "unknown"].append(p.correct)
        by_tier[p.tier or "none"].append(p.correct)
        support[p.label] += 1
        if p.predicted is not None:
            predicted[p.predicted] += 1
        if p.correct:
            right[p.label] += 1
        else:
            confusions[(p.label, p.predicted or NO_ANSWER)] += 1
        if p.error:
            errors[p.error] += 1
    latencies = [p.latency_ms for p in predictions]
    ranked = sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:top_confusions]
    return EvalReport(
        overall=Score(len(predictions), sum(p.correct for p in predictions)),
        by_language=_scores(by_language),
        by_tier=_scores(by_tier),
        by_label={
            label: LabelScore(support[label], right[label], predicted[label])
            for label in sorted(support)
        },
        confusions=[(t, p, n) for (t, p), n in ranked],
        errors=dict(errors),
        cost_usd=sum((p.cost_usd for p in predictions), Decimal(0)),
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p95_ms=percentile(latencies, 0.95),
        unknown_labels=sorted(set(support) - set(intents)) if intents else [],
    )
