"""Walking a tier's failover chain: the next model is tried when one fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.config import get_settings
from app.errors import (
    AllProvidersFailed,
    MalformedResponse,
    ProviderConfigError,
    ProviderError,
    ProviderRejected,
    ProviderTimedOut,
)
from app.observability import counters, tracing
from app.policy import Policy, TierName
from app.providers import budget, deadline
from app.providers.base import Attempt
from app.providers.health import breaker_for, report_config_error, report_transition
from app.providers.prompt import Prompt, probe_prompt
from app.providers.registry import get_client
from app.state.leases import renew_lease

T = TypeVar("T")
UNUSABLE = "unusable"
# Too little of the step's time left for a model to answer (app/providers/deadline.py):
# the chain stops, and the message parks like one whose providers did not answer.
DEADLINE = "deadline"
MIN_CALL_S = 3.0
# Unusable answers one call accepts (across the chain) before it gives up.
MAX_UNUSABLE_ANSWERS = 2


@dataclass
class TierResult(Generic[T]):
    """The parsed answer of the first model that succeeded, and every attempt."""

    value: T
    text: str
    provider: str
    model: str
    attempts: list[Attempt] = field(default_factory=list)


class TierCallFailed(AllProvidersFailed):
    """Raised when every model of the chain failed; carries the attempts for the audit."""

    def __init__(
        self,
        message: str,
        *,
        attempts: list[Attempt],
        retry_after_s: float | None = None,
        last_error: ProviderError | None = None,
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.attempts = attempts
        self.last_error = last_error

    @property
    def all_rejected(self) -> bool:
        """Every model refused the request itself: trying later will not help."""
        return bool(self.attempts) and all(a.status == "rejected" for a in self.attempts)

    @property
    def all_config(self) -> bool:
        return bool(self.attempts) and all(a.status == "config_error" for a in self.attempts)

    @property
    def unusable(self) -> bool:
        """A model answered but its answer could not be used: the message escalates
        (`unusable_model_answer`) rather than parking as if for an outage."""
        return any(a.status == UNUSABLE for a in self.attempts)

    @property
    def out_of_time(self) -> bool:
        """The step's deadline ended the chain: no other tier gets asked either."""
        return any(a.status == DEADLINE for a in self.attempts)

    @property
    def over_budget(self) -> bool:
        return any(a.status == "over_budget" for a in self.attempts)


def _status_of(exc: ProviderError) -> str:
    if isinstance(exc, ProviderRejected):
        return "rejected"
    if isinstance(exc, ProviderConfigError):
        return "config_error"
    if isinstance(exc, MalformedResponse):
        return "malformed"
    return "unavailable"


def neighbours(policy: Policy, tier: TierName) -> tuple[TierName, ...]:
    """Tiers that may stand in for `tier` when its whole chain is down."""
    if not policy.routing.borrow_neighbour_tier:
        return ()
    table: dict[TierName, tuple[TierName, ...]] = {
        "fast": ("standard",),
        "standard": ("flagship",),
        "flagship": ("standard",),
    }
    return table[tier]


def call_tier(
    *,
    policy: Policy,
    tier: TierName,
    prompt: Prompt,
    task: str,
    message_id: str,
    parse: Callable[[str], T],
    borrow: bool = True,
) -> TierResult[T]:
    """Call the tier's chain in order until one model answers something `parse` accepts;
    then, where the policy allows, the neighbouring tier's chain.

    Raises:
        TierCallFailed: every model failed or was skipped by its breaker; `attempts` says how.
    """
    tiers = [tier, *neighbours(policy, tier)] if borrow else [tier]
    attempts: list[Attempt] = []
    try:
        return _call_tiers(
            policy=policy,
            tiers=tiers,
            prompt=prompt,
            task=task,
            message_id=message_id,
            parse=parse,
            attempts=attempts,
        )
    finally:
        count_attempts(policy, attempts)


def count_attempts(policy: Policy, attempts: list[Attempt]) -> None:
    """Update the model-call metrics with each attempt of one call (skipped ones too)."""
    flagship = policy.tiers["flagship"].chain[0]
    for a in attempts:
        counters.MODEL_CALLS.labels(
            tier=a.tier, provider=a.provider, model=a.model, status=a.status
        ).inc()
        if a.latency_ms:
            counters.MODEL_CALL_SECONDS.labels(provider=a.provider, model=a.model).observe(
                a.latency_ms / 1000
            )
        if not (a.input_tokens or a.output_tokens):
            continue
        labels = {"tier": a.tier, "provider": a.provider, "model": a.model}
        counters.MODEL_TOKENS.labels(**labels, direction="input").inc(a.input_tokens)
        counters.MODEL_TOKENS.labels(**labels, direction="output").inc(a.output_tokens)
        counters.MODEL_COST.labels(**labels).inc(float(a.cost_usd))
        counterfactual = policy.price_of(flagship).cost_usd(a.input_tokens, a.output_tokens)
        counters.MODEL_COST_ALL_FLAGSHIP.labels(task=a.task).inc(float(counterfactual))


def _call_tiers(
    *,
    policy: Policy,
    tiers: list[TierName],
    prompt: Prompt,
    task: str,
    message_id: str,
    parse: Callable[[str], T],
    attempts: list[Attempt],
) -> TierResult[T]:
    tier = tiers[0]
    retry_after: float | None = None
    last_error: ProviderError | None = None
    index = 0
    while index < len(tiers):
        current = tiers[index]
        index += 1
        try:
            return _call_chain(
                policy=policy,
                tier=current,
                prompt=prompt,
                task=task,
                message_id=message_id,
                parse=parse,
                attempts=attempts,
            )
        except TierCallFailed as exc:
            if exc.unusable:
                break  # the message's problem: another tier would be asked the same
            if exc.out_of_time:
                break
            last_error = exc.last_error or last_error
            if exc.retry_after_s is not None:
                hint = exc.retry_after_s
                retry_after = hint if retry_after is None else min(retry_after, hint)
            if exc.all_rejected:
                break
            if exc.over_budget:
                if policy.routing.over_budget == "park":
                    break  # flagship work waits for tomorrow's budget, never a cheaper tier
                if "standard" not in tiers[index:]:
                    tiers.insert(index, "standard")
    raise TierCallFailed(
        f"every model of tier {tier} failed for {task}",
        attempts=attempts,
        retry_after_s=retry_after,
        last_error=last_error,
    )


def _call_chain(
    *,
    policy: Policy,
    tier: TierName,
    prompt: Prompt,
    task: str,
    message_id: str,
    parse: Callable[[str], T],
    attempts: list[Attempt],
) -> TierResult[T]:
    timeout_s = get_settings().keel_model_timeout_s
    headers = {"X-Keel-Task": task, "X-Keel-Message-Id": message_id}
    first = len(attempts)
    retry_after: float | None = None
    last_error: ProviderError | None = None
    for ref in policy.tiers[tier].chain:
        attempt = Attempt(
            provider=ref.provider, model=ref.model, tier=tier, task=task, status="ok", latency_ms=0
        )
        attempts.append(attempt)
        left = deadline.remaining_s()
        call_timeout_s = timeout_s if left is None else min(timeout_s, left)
        if call_timeout_s < MIN_CALL_S:
            attempt.status = DEADLINE
            break
        breaker = breaker_for(policy, ref)
        allowed, transition = breaker.allow()
        report_transition(transition)
        if not allowed:
            attempt.status = "breaker_open"
            continue
        try:
            reserved = budget.reserve(policy, tier=tier, ref=ref, prompt=prompt)
        except budget.OverBudget:
            attempt.status = "over_budget"
            attempt.extra = {
                "decision": policy.routing.over_budget,
                "spent_usd": str(budget.spent_usd()),
                "budget_usd": str(policy.routing.daily_budget_usd),
            }
            break  # every flagship model shares the one budget
        renew_lease(message_id)  # about to wait on a model: the step is alive
        started = time.perf_counter()
        try:
            with tracing.model_call_span(
                provider=ref.provider,
                model=ref.model,
                tier=tier,
                task=task,
                system=prompt.full_system,
                user=prompt.user,
            ) as call_span:
                completion = get_client(ref.provider).complete(
                    model=ref.model, prompt=prompt, headers=headers, timeout_s=call_timeout_s
                )
                attempt.input_tokens = completion.input_tokens
                attempt.output_tokens = completion.output_tokens
                attempt.request_id = completion.request_id
                attempt.response_id = completion.response_id
                attempt.response_model = completion.response_model
                attempt.cache_write_tokens = completion.cache_write_tokens
                attempt.cache_read_tokens = completion.cache_read_tokens
                attempt.cost_usd = policy.price_of(ref).cost_usd(
                    completion.input_tokens,
                    completion.output_tokens,
                    cache_write_tokens=completion.cache_write_tokens,
                    cache_read_tokens=completion.cache_read_tokens,
                )
                call_span.completed(
                    response_id=completion.response_id,
                    response_model=completion.response_model,
                    input_tokens=completion.input_tokens,
                    output_tokens=completion.output_tokens,
                    cost_usd=float(attempt.cost_usd),
                    text=completion.text,
                )
                try:
                    value = parse(completion.text)
                except ValueError as exc:
                    call_span.failed(UNUSABLE)
                    # The model answered; what it said cannot be used. A problem of this
                    # message (a customer can provoke it), not of the provider: its breaker
                    # counts a success, and after MAX_UNUSABLE_ANSWERS the call gives up.
                    attempt.status = UNUSABLE
                    attempt.error = f"unusable answer: {str(exc)[:200]}"
                    attempt.latency_ms = (time.perf_counter() - started) * 1000
                    budget.settle(policy, reserved_micro=reserved, cost_usd=attempt.cost_usd)
                    report_transition(breaker.record(ok=True, latency_s=attempt.latency_ms / 1000))
                    if sum(a.status == UNUSABLE for a in attempts) >= MAX_UNUSABLE_ANSWERS:
                        break
                    continue
        except ProviderError as exc:
            attempt.status = _status_of(exc)
            attempt.error = type(exc).__name__
            attempt.http_status = exc.status
            attempt.request_id = attempt.request_id or exc.request_id
            attempt.latency_ms = (time.perf_counter() - started) * 1000
            last_error = exc
            hint = getattr(exc, "retry_after_s", None)
            if hint is not None:
                retry_after = hint if retry_after is None else min(retry_after, hint)
                breaker.hold(hint)  # honour retry-after for every worker, sleep none
            if isinstance(exc, ProviderConfigError):
                report_config_error(exc)
            if isinstance(exc, ProviderTimedOut) and call_timeout_s < timeout_s:
                # cut short by the step's deadline, not given the provider's own timeout:
                # no verdict on the provider, and the chain ends here
                attempt.status = DEADLINE
                budget.settle(policy, reserved_micro=reserved, cost_usd=attempt.cost_usd)
                break
            if attempt.status != "rejected":
                report_transition(breaker.record(ok=False, latency_s=attempt.latency_ms / 1000))
            budget.settle(policy, reserved_micro=reserved, cost_usd=attempt.cost_usd)
            continue
        attempt.latency_ms = (time.perf_counter() - started) * 1000
        budget.settle(policy, reserved_micro=reserved, cost_usd=attempt.cost_usd)
        report_transition(breaker.record(ok=True, latency_s=attempt.latency_ms / 1000))
        return TierResult(
            value=value,
            text=completion.text,
            provider=ref.provider,
            model=ref.model,
            attempts=attempts,
        )
    raise TierCallFailed(
        f"every model of tier {tier} failed for {task}",
        attempts=attempts[first:],
        retry_after_s=retry_after,
        last_error=last_error,
    )


def probe_tier(*, policy: Policy, tier: TierName) -> str | None:
    """Send a tiny request to each model of the tier (and its neighbours) until one
    answers; closes that model's breaker. Returns the model that answered, or None."""
    prompt = probe_prompt()
    timeout_s = min(5.0, get_settings().keel_model_timeout_s)
    for current in (tier, *neighbours(policy, tier)):
        for ref in policy.tiers[current].chain:
            breaker = breaker_for(policy, ref)
            try:
                get_client(ref.provider).complete(
                    model=ref.model,
                    prompt=prompt,
                    headers={"X-Keel-Task": "probe", "X-Keel-Message-Id": f"probe-{current}"},
                    timeout_s=timeout_s,
                )
            except ProviderError:
                continue
            report_transition(breaker.record_probe(ok=True))
            return ref.key
    return None
