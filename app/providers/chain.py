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
)
from app.pipeline.prompts import Prompt
from app.policy import Policy, TierName
from app.providers.base import Attempt
from app.providers.registry import get_client

T = TypeVar("T")


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


def _status_of(exc: ProviderError) -> str:
    if isinstance(exc, ProviderRejected):
        return "rejected"
    if isinstance(exc, ProviderConfigError):
        return "config_error"
    if isinstance(exc, MalformedResponse):
        return "malformed"
    return "unavailable"


def call_tier(
    *,
    policy: Policy,
    tier: TierName,
    prompt: Prompt,
    task: str,
    message_id: str,
    parse: Callable[[str], T],
) -> TierResult[T]:
    """Call the tier's chain in order until one model answers something `parse` accepts.

    Raises:
        TierCallFailed: every model failed; `attempts` says how.
    """
    timeout_s = get_settings().keel_model_timeout_s
    headers = {"X-Keel-Task": task, "X-Keel-Message-Id": message_id}
    attempts: list[Attempt] = []
    retry_after: float | None = None
    last_error: ProviderError | None = None
    for ref in policy.tiers[tier].chain:
        started = time.perf_counter()
        attempt = Attempt(
            provider=ref.provider, model=ref.model, tier=tier, task=task, status="ok", latency_ms=0
        )
        attempts.append(attempt)
        try:
            completion = get_client(ref.provider).complete(
                model=ref.model, prompt=prompt, headers=headers, timeout_s=timeout_s
            )
            attempt.input_tokens = completion.input_tokens
            attempt.output_tokens = completion.output_tokens
            attempt.request_id = completion.request_id
            attempt.cost_usd = policy.price_of(ref).cost_usd(
                completion.input_tokens, completion.output_tokens
            )
            try:
                value = parse(completion.text)
            except ValueError as exc:
                raise MalformedResponse(
                    f"{ref.key} answer unusable for {task}: {exc}",
                    provider=ref.provider,
                    model=ref.model,
                    request_id=completion.request_id,
                ) from exc
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
            continue
        attempt.latency_ms = (time.perf_counter() - started) * 1000
        return TierResult(
            value=value,
            text=completion.text,
            provider=ref.provider,
            model=ref.model,
            attempts=attempts,
        )
    raise TierCallFailed(
        f"every model of tier {tier} failed for {task}",
        attempts=attempts,
        retry_after_s=retry_after,
        last_error=last_error,
    )
