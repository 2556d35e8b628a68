"""Provider outages and call statistics: the simulator's mutable state besides its rules."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.simulator import wire
from app.simulator.tokens import CACHE_LIFETIME_S, min_cacheable, openai_cached_tokens

Status = int | str  # an HTTP status, or "timeout" / "reset" when no response was sent


class OutageRequest(BaseModel):
    """`POST /_sim/outage`: take a provider down for `seconds`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["anthropic", "openai"]
    status: int = Field(default=503, ge=400, le=599)
    seconds: float = Field(default=30.0, gt=0)
    retry_after: float | None = Field(default=None, ge=0)
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Outage:
    request: OutageRequest
    until: float


class Outages:
    """At most one outage per provider; a new one replaces the old."""

    def __init__(self) -> None:
        self._by_provider: dict[str, Outage] = {}

    def start(self, request: OutageRequest) -> None:
        self._by_provider[request.provider] = Outage(request, time.monotonic() + request.seconds)

    def clear(self) -> None:
        self._by_provider.clear()

    def active(self, provider: str) -> OutageRequest | None:
        if not self._by_provider:
            return None
        outage = self._by_provider.get(provider)
        if outage is None:
            return None
        if time.monotonic() >= outage.until:
            del self._by_provider[provider]
            return None
        return outage.request

    def describe(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {
                **outage.request.model_dump(exclude_none=True),
                "ends_in_s": round(outage.until - now, 3),
            }
            for outage in self._by_provider.values()
            if outage.until > now
        ]


class Stats:
    """Counts of calls by (provider, model, task, status)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str, Status]] = Counter()

    def record(self, *, provider: str, model: str, task: str, status: Status) -> None:
        self._counts[(provider, model, task, status)] += 1

    def reset(self) -> None:
        self._counts.clear()

    def snapshot(self) -> dict[str, Any]:
        """`total`, one row per combination in `calls`, and totals `by_*` dimension."""
        calls = [
            {"provider": p, "model": m, "task": t, "status": s, "count": n}
            for (p, m, t, s), n in sorted(self._counts.items(), key=lambda kv: str(kv[0]))
        ]
        by: dict[str, Counter[str]] = {
            "by_provider": Counter(),
            "by_model": Counter(),
            "by_task": Counter(),
            "by_status": Counter(),
        }
        for (p, m, t, s), n in self._counts.items():
            by["by_provider"][p] += n
            by["by_model"][m] += n
            by["by_task"][t] += n
            by["by_status"][str(s)] += n
        return {
            "total": sum(self._counts.values()),
            "calls": calls,
            **{key: dict(counter) for key, counter in by.items()},
        }


class PromptCaches:
    """The providers' prompt caches, per provider and model: a prefix is cached when a
    call sends it (Anthropic: marked with `cache_control`; OpenAI: by itself), if it is
    at least the model's minimum; it lives `CACHE_LIFETIME_S` from its last use. Anthropic
    bills the write (`cache_creation_input_tokens`); OpenAI does not report one."""

    def __init__(self) -> None:
        self._expiry: dict[tuple[str, str, str], float] = {}

    def use(self, call: wire.Call, *, now: float | None = None) -> wire.CacheUse:
        tokens = call.cache_prefix_tokens
        if not call.cache_prefix or tokens < min_cacheable(call.provider, call.model):
            return wire.CacheUse()
        now = time.monotonic() if now is None else now
        key = (
            call.provider,
            call.model,
            hashlib.sha256(call.cache_prefix.encode("utf-8")).hexdigest(),
        )
        alive = self._expiry.get(key, 0.0) > now
        self._expiry[key] = now + CACHE_LIFETIME_S
        if len(self._expiry) > 10_000:
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
        if call.provider == wire.ANTHROPIC:
            return wire.CacheUse(read=tokens) if alive else wire.CacheUse(written=tokens)
        return wire.CacheUse(read=openai_cached_tokens(tokens) if alive else 0)

    def clear(self) -> None:
        self._expiry.clear()
