"""Running the real classify path over labeled examples, a few at a time.

Each example goes through the classify step's own `classify_text`: to the local tier
first when the policy configures one (and `use_local` allows), else to the policy's
classify tier with the production prompt and parser, so providers, failover and prices
are the configured ones. Nothing is written to the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from app.evaluation.dataset import LabeledExample
from app.evaluation.metrics import Prediction
from app.pipeline.classification import classify_text
from app.policy import Policy
from app.providers import TierCallFailed


def classify_example(
    example: LabeledExample, *, policy: Policy, index: int, use_local: bool = True
) -> Prediction:
    """One example through the classify path; a tier whose every model failed is a miss."""
    started = time.perf_counter()
    try:
        found = classify_text(
            example.text, policy=policy, message_id=f"eval-{index}", use_local=use_local
        )
    except TierCallFailed as exc:
        return Prediction(
            label=example.label,
            language=example.language,
            predicted=None,
            confidence=None,
            tier=policy.routing.classify_tier,
            provider=None,
            model=None,
            cost_usd=sum((a.cost_usd for a in exc.attempts), Decimal(0)),
            latency_ms=(time.perf_counter() - started) * 1000,
            error=",".join(sorted({a.status for a in exc.attempts})) or "failed",
        )
    return Prediction(
        label=example.label,
        language=example.language,
        predicted=found.intent,
        confidence=found.confidence,
        tier=found.answered_tier,
        provider=found.provider,
        model=found.model,
        cost_usd=found.cost_usd,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def evaluate(
    examples: Sequence[LabeledExample],
    *,
    policy: Policy,
    concurrency: int = 4,
    use_local: bool = True,
    on_done: Callable[[Prediction], None] | None = None,
) -> list[Prediction]:
    """Predictions for every example, in order, at most `concurrency` calls at a time."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")

    def run(indexed: tuple[int, LabeledExample]) -> Prediction:
        index, example = indexed
        prediction = classify_example(example, policy=policy, index=index, use_local=use_local)
        if on_done is not None:
            on_done(prediction)
        return prediction

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="keel-eval") as pool:
        return list(pool.map(run, enumerate(examples)))
