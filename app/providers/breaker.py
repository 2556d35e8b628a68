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
from redis.commands.core import Script

from app.policy.models import Breakers
from app.state import Keys, script

BUCKETS_PER_WINDOW = 6
MAX_HOLD_S = 120.0

# Compare-and-set of the state hash: only one worker performs each transition.
_CAS = """
local current = redis.call('HGET', KEYS[1], 'state') or 'closed'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'open_until', ARGV[3], 'since', ARGV[4])
return 1
"""

# allow() in one round trip. KEYS: hold, state. Returns nil when held, else
# {state, open_until} (a missing field reads as 'closed' / '0', as in `Breaker.state`).
_ALLOW = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local s = redis.call('HMGET', KEYS[2], 'state', 'open_until')
return {s[1] or 'closed', s[2] or '0'}
"""

# record() in one round trip. KEYS: current bucket, state, then the window's buckets.
# ARGV: failed (0/1), slow (0/1), bucket TTL. Counts the outcome, then returns {state}
# or, when closed, {state, calls, fails, slow} summed over the window's buckets.
_RECORD = """
redis.call('HINCRBY', KEYS[1], 'calls', 1)
if ARGV[1] == '1' then redis.call('HINCRBY', KEYS[1], 'fails', 1) end
if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], 'slow', 1) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local state = redis.call('HGET', KEYS[2], 'state') or 'closed'
if state ~= 'closed' then return {state} end
local calls, fails, slow = 0, 0, 0
for i = 3, #KEYS do
  local row = redis.call('HMGET', KEYS[i], 'calls', 'fails', 'slow')
  calls = calls + (tonumber(row[1]) or 0)
  fails = fails + (tonumber(row[2]) or 0)
  slow = slow + (tonumber(row[3]) or 0)
end
return {state, calls, fails, slow}
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


def trip_reason(stats: WindowStats, config: Breakers) -> str | None:
    """Why a closed breaker opens on this window (`failure_rate`, `slow_call_rate`), or
    None: too few calls to judge, or both rates under the policy's limits."""
    if stats.calls < config.min_calls:
        return None
    if stats.failure_rate >= config.failure_rate:
        return "failure_rate"
    if stats.slow_rate >= config.slow_rate:
        return "slow_call_rate"
    return None


@dataclass(frozen=True)
class _Scripts:
    cas: Script
    allow: Script
    record: Script


def _scripts_for(client: redis.Redis) -> _Scripts:
    """The breaker's scripts bound to `client`."""
    return _Scripts(
        cas=script(client, _CAS), allow=script(client, _ALLOW), record=script(client, _RECORD)
    )


def _parse_state(state: bytes, open_until: bytes | None = None) -> tuple[BreakerState, float]:
    """State and open_until from their raw hash fields."""
    return BreakerState(state.decode()), float(open_until or 0)


class Breaker:
    """One model's breaker. Cheap to build; all state lives in Redis."""

    def __init__(self, *, client: redis.Redis, keys: Keys, config: Breakers, model_key: str):
        self.r = client
        self.keys = keys
        self.config = config
        self.model_key = model_key
        self._state_key = keys.breaker_state(model_key)
        self._scripts = _scripts_for(client)

    @property
    def bucket_s(self) -> float:
        return self.config.window_s / BUCKETS_PER_WINDOW

    def state(self) -> tuple[BreakerState, float]:
        raw: dict[bytes, bytes] = self.r.hgetall(self._state_key)  # type: ignore[assignment]
        return _parse_state(raw.get(b"state", b"closed"), raw.get(b"open_until", b"0"))

    def _cas(self, old: BreakerState, new: BreakerState, open_until: float, now: float) -> bool:
        return bool(self._scripts.cas(keys=[self._state_key], args=[old, new, open_until, now]))

    def allow(self, *, now: float | None = None) -> tuple[bool, Transition | None]:
        """May this caller call the model now? Open breakers past their cool-down hand
        one caller the half-open trial."""
        now = time.time() if now is None else now
        reply: list[bytes] | None = self._scripts.allow(
            keys=[self.keys.breaker_hold(self.model_key), self._state_key]
        )
        if reply is None:  # held: the provider asked for a pause
            return False, None
        state, open_until = _parse_state(*reply)
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

    def _window_keys(self, now: float) -> list[str]:
        """The bucket keys of the window ending at `now`, oldest first."""
        first = int((now - self.config.window_s) // self.bucket_s) + 1
        last = int(now // self.bucket_s)
        return [self.keys.breaker_window(self.model_key, b) for b in range(first, last + 1)]

    def window(self, *, now: float) -> WindowStats:
        pipe = self.r.pipeline(transaction=False)
        for key in self._window_keys(now):
            pipe.hmget(key, "calls", "fails", "slow")
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
        raw_state, *sums = self._scripts.record(
            keys=[key, self._state_key, *self._window_keys(now)],
            args=[int(not ok), int(slow), int(self.config.window_s * 2) + 1],
        )
        state, _ = _parse_state(raw_state)
        if state == BreakerState.half_open:
            return self._after_trial(ok=ok and not slow, now=now)
        if state == BreakerState.open:
            return None
        calls, failures, slow_calls = (int(n) for n in sums)
        stats = WindowStats(calls, failures, slow_calls)
        reason = trip_reason(stats, self.config)
        if reason is None:
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
