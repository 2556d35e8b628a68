"""Running the real classify path over labeled examples, a few at a time.

Each example goes where a message would: to the local tier first when the policy
configures one (and `use_local` allows), else through `call_tier` on the policy's
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
from app.localtier import classify_locally
from app.pipeline import prompts
from app.policy import Policy
from app.providers import TierCallFailed, call_tier


def classify_example(
    example: LabeledExample, *, policy: Policy, index: int, use_local: bool = True
) -> Prediction:
    """One example through the classify path; a tier whose every model failed is a miss."""
    started = time.perf_counter()
    local = classify_locally(policy=policy, text=example.text) if use_local else None
    if local is not None:
        return Prediction(
            label=example.label,
            language=example.language,
            predicted=local.intent,
            confidence=local.confidence,
            tier="local",
            provider="local",
            model=local.model_name,
            cost_usd=Decimal(0),
            latency_ms=(time.perf_counter() - started) * 1000,
        )
    tier = policy.routing.classify_tier
    try:
        result = call_tier(
            policy=policy,
            tier=tier,
            prompt=prompts.classify_prompt(policy=policy, text=example.text),
            task="classify",
            message_id=f"eval-{index}",
            parse=lambda raw: prompts.parse_classification(raw, intents=policy.routing.intents),
        )
    except TierCallFailed as exc:
        return Prediction(
            label=example.label,
            language=example.language,
            predicted=None,
            confidence=None,
            tier=tier,
            provider=None,
            model=None,
            cost_usd=sum((a.cost_usd for a in exc.attempts), Decimal(0)),
            latency_ms=(time.perf_counter() - started) * 1000,
            error=",".join(sorted({a.status for a in exc.attempts})) or "failed",
        )
    intent, _, confidence = result.value
    return Prediction(
        label=example.label,
        language=example.language,
        predicted=intent,
        confidence=confidence,
        tier=result.attempts[-1].tier if result.attempts else tier,
        provider=result.provider,
        model=result.model,
        cost_usd=sum((a.cost_usd for a in result.attempts), Decimal(0)),
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
