"""Circuit breakers per provider:model, their state in Redis so every worker shares it.

Closed: calls flow; outcomes land in time buckets over a sliding window. When enough
calls in the window failed (or were slow), the breaker opens: calls to that model are
skipped for `open_s`. Then one worker wins the half-open trial; its success closes the
breaker, its failure opens it again. Every transition is returned to the caller, which
audits it and tells Sentry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import redis

from app.policy.models import Breakers
from app.state import Keys

BUCKETS_PER_WINDOW = 6
MAX_HOLD_S = 120.0

# Compare-and-set of the state hash: only one worker performs each transition.
_CAS = """
local current = redis.call('HGET', KEYS[1], 'state') or 'closed'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'open_until', ARGV[3], 'since', ARGV[4])
return 1
"""


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


@dataclass(frozen=True)
class Transition:
    model_key: str
    from_state: BreakerState
    to_state: BreakerState
    reason: str
    calls: int = 0
    failures: int = 0
    slow: int = 0


@dataclass(frozen=True)
class WindowStats:
    calls: int
    failures: int
    slow: int

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_rate(self) -> float:
        return self.slow / self.calls if self.calls else 0.0


class Breaker:
    """One model's breaker. Cheap to build; all state lives in Redis."""

    def __init__(self, *, client: redis.Redis, keys: Keys, config: Breakers, model_key: str):
        self.r = client
        self.keys = keys
        self.config = config
        self.model_key = model_key
        self._state_key = keys.breaker_state(model_key)

    @property
    def bucket_s(self) -> float:
        return self.config.window_s / BUCKETS_PER_WINDOW

    def state(self) -> tuple[BreakerState, float]:
        raw: dict[bytes, bytes] = self.r.hgetall(self._state_key)  # type: ignore[assignment]
        state = BreakerState(raw.get(b"state", b"closed").decode())
        open_until = float(raw.get(b"open_until", b"0") or 0)
        return state, open_until

    def _cas(self, old: BreakerState, new: BreakerState, open_until: float, now: float) -> bool:
        script = self.r.register_script(_CAS)
        return bool(script(keys=[self._state_key], args=[old, new, open_until, now]))

    def allow(self, *, now: float | None = None) -> tuple[bool, Transition | None]:
        """May this caller call the model now? Open breakers past their cool-down hand
        one caller the half-open trial."""
        now = time.time() if now is None else now
        if self.r.exists(self.keys.breaker_hold(self.model_key)):
            return False, None
        state, open_until = self.state()
        if state == BreakerState.closed:
            return True, None
        if state == BreakerState.open and now < open_until:
            return False, None
        trial_ttl_s = max(1, int(self.config.slow_call_s * 2))
        if not self.r.set(self.keys.breaker_trial(self.model_key), 1, nx=True, ex=trial_ttl_s):
            return False, None
        if state == BreakerState.open and self._cas(state, BreakerState.half_open, 0, now):
            return True, Transition(self.model_key, state, BreakerState.half_open, "cool_down_over")
        return True, None

    def hold(self, seconds: float) -> None:
        """Skip this model for every worker until the provider's `retry-after` has passed."""
        self.r.set(
            self.keys.breaker_hold(self.model_key),
            1,
            px=max(1, int(min(seconds, MAX_HOLD_S) * 1000)),
        )

    def held_for_s(self) -> float:
        return max(0.0, float(self.r.pttl(self.keys.breaker_hold(self.model_key))) / 1000)

    def window(self, *, now: float) -> WindowStats:
        first = int((now - self.config.window_s) // self.bucket_s) + 1
        last = int(now // self.bucket_s)
        pipe = self.r.pipeline(transaction=False)
        for bucket in range(first, last + 1):
            pipe.hmget(self.keys.breaker_window(self.model_key, bucket), "calls", "fails", "slow")
        calls = failures = slow = 0
        for row in pipe.execute():
            calls += int(row[0] or 0)
            failures += int(row[1] or 0)
            slow += int(row[2] or 0)
        return WindowStats(calls, failures, slow)

    def record(self, *, ok: bool, latency_s: float, now: float | None = None) -> Transition | None:
        """Count one call's outcome; returns the transition it caused, if any."""
        now = time.time() if now is None else now
        slow = latency_s >= self.config.slow_call_s
        key = self.keys.breaker_window(self.model_key, int(now // self.bucket_s))
        pipe = self.r.pipeline(transaction=False)
        pipe.hincrby(key, "calls", 1)
        if not ok:
            pipe.hincrby(key, "fails", 1)
        if slow:
            pipe.hincrby(key, "slow", 1)
        pipe.expire(key, int(self.config.window_s * 2) + 1)
        pipe.execute()
        state, _ = self.state()
        if state == BreakerState.half_open:
            return self._after_trial(ok=ok and not slow, now=now)
        if state == BreakerState.open:
            return None
        stats = self.window(now=now)
        if stats.calls < self.config.min_calls:
            return None
        if stats.failure_rate >= self.config.failure_rate:
            reason = "failure_rate"
        elif stats.slow_rate >= self.config.slow_rate:
            reason = "slow_call_rate"
        else:
            return None
        if self._cas(BreakerState.closed, BreakerState.open, now + self.config.open_s, now):
            return Transition(
                self.model_key,
                BreakerState.closed,
                BreakerState.open,
                reason,
                stats.calls,
                stats.failures,
                stats.slow,
            )
        return None

    def _after_trial(self, *, ok: bool, now: float) -> Transition | None:
        self.r.delete(self.keys.breaker_trial(self.model_key))
        if ok:
            if self._cas(BreakerState.half_open, BreakerState.closed, 0, now):
                self._clear_window(now)
                return Transition(
                    self.model_key, BreakerState.half_open, BreakerState.closed, "trial_ok"
                )
            return None
        if self._cas(BreakerState.half_open, BreakerState.open, now + self.config.open_s, now):
            return Transition(
                self.model_key, BreakerState.half_open, BreakerState.open, "trial_failed"
            )
        return None

    def record_probe(self, *, ok: bool, now: float | None = None) -> Transition | None:
        """A probe answered: a good answer closes an open breaker at once."""
        now = time.time() if now is None else now
        state, _ = self.state()
        if not ok or state == BreakerState.closed:
            return None
        if self._cas(state, BreakerState.closed, 0, now):
            self.r.delete(self.keys.breaker_trial(self.model_key))
            self._clear_window(now)
            return Transition(self.model_key, state, BreakerState.closed, "probe_ok")
        return None

    def _clear_window(self, now: float) -> None:
        last = int(now // self.bucket_s)
        names = [
            self.keys.breaker_window(self.model_key, b)
            for b in range(last - BUCKETS_PER_WINDOW - 1, last + 1)
        ]
        self.r.delete(*names)
