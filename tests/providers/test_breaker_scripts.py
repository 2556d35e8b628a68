"""The breaker's Lua scripts against real Redis: the window sums they compute equal
`Breaker.window`, a closed breaker costs one round trip per `allow` and per `record`,
and random call sequences move it exactly as the former command-by-command code did."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.connection import Connection

from app.policy.models import Breakers
from app.providers.breaker import (
    BUCKETS_PER_WINDOW,
    Breaker,
    BreakerState,
    Transition,
    WindowStats,
    _scripts_for,
)
from app.state import Keys
from tests.helpers import REDIS_URL

MODEL = "anthropic:claude-haiku-4-5"


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    """A client of its own, so the per-client script cache starts empty."""
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


class LegacyBreaker(Breaker):
    """`allow` and `record` as they were before the scripts: the reference semantics."""

    def allow(self, *, now: float | None = None) -> tuple[bool, Transition | None]:
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

    def record(self, *, ok: bool, latency_s: float, now: float | None = None) -> Transition | None:
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


def random_config(rng: random.Random) -> Breakers:
    return Breakers(
        window_s=rng.choice([7.5, 10.0, 30.0, 31.7]),
        min_calls=rng.randint(1, 6),
        failure_rate=rng.choice([0.2, 0.5, 1.0]),
        slow_call_s=rng.choice([8.0, 10.0]),  # trial keys outlive the test (>= 16 s)
        slow_rate=rng.choice([0.3, 0.8, 1.0]),
        open_s=rng.choice([3.0, 15.0]),
    )


@pytest.mark.parametrize("seed", range(20))
def test_lua_window_sums_equal_the_python_window(
    client: redis.Redis, redis_namespace: str, seed: int
) -> None:
    rng = random.Random(seed)
    breaker = Breaker(
        client=client, keys=Keys(redis_namespace), config=random_config(rng), model_key=MODEL
    )
    now = 1_700_000_000 + rng.uniform(0, 1000)
    last = int(now // breaker.bucket_s)
    # Buckets in and around the window: some missing, some with only a few fields.
    for bucket in range(last - BUCKETS_PER_WINDOW - 3, last + 4):
        if rng.random() < 0.2:
            continue
        for field in ("calls", "fails", "slow"):
            if rng.random() < 0.8:
                client.hset(breaker.keys.breaker_window(MODEL, bucket), field, rng.randint(0, 50))

    raw_state, *sums = _scripts_for(client).record(
        keys=[
            breaker.keys.breaker_window(MODEL, last),
            breaker.keys.breaker_state(MODEL),
            *breaker._window_keys(now),
        ],
        args=[
            int(rng.random() < 0.5),
            int(rng.random() < 0.5),
            int(breaker.config.window_s * 2) + 1,
        ],
    )

    assert raw_state == b"closed"
    assert WindowStats(*(int(n) for n in sums)) == breaker.window(now=now)
    ttl = client.ttl(breaker.keys.breaker_window(MODEL, last))
    assert 0 < ttl <= int(breaker.config.window_s * 2) + 1


def test_an_open_breaker_counts_the_call_but_returns_only_its_state(
    client: redis.Redis, redis_namespace: str
) -> None:
    breaker = Breaker(client=client, keys=Keys(redis_namespace), config=Breakers(), model_key=MODEL)
    client.hset(breaker.keys.breaker_state(MODEL), mapping={"state": "open", "open_until": 9e9})
    now = 1_700_000_000.0
    assert breaker.record(ok=False, latency_s=100, now=now) is None
    assert breaker.window(now=now) == WindowStats(1, 1, 1)


def count_sends(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every command batch sent to Redis from now on (one per round trip)."""
    sent: list[bytes] = []
    original = Connection.send_packed_command

    def counting(self: Connection, command: Any, check_health: bool = True) -> None:
        sent.append(command)
        original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return sent


def test_a_closed_breaker_costs_one_round_trip_per_allow_and_per_record(
    client: redis.Redis, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    breaker = Breaker(client=client, keys=Keys(redis_namespace), config=Breakers(), model_key=MODEL)
    now = 1_700_000_000.0
    breaker.allow(now=now)  # scripts loaded into Redis on first use
    breaker.record(ok=True, latency_s=0.1, now=now)
    sent = count_sends(monkeypatch)

    assert breaker.allow(now=now) == (True, None)
    assert len(sent) == 1
    assert breaker.record(ok=False, latency_s=20, now=now) is None
    assert len(sent) == 2

    client.hset(breaker.keys.breaker_state(MODEL), mapping={"state": "open", "open_until": 9e9})
    del sent[:]
    assert breaker.allow(now=now) == (False, None)
    assert breaker.record(ok=True, latency_s=0.1, now=now) is None
    assert len(sent) == 2


def test_scripts_are_registered_once_per_client(
    client: redis.Redis, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[str] = []
    register = client.register_script

    def counting(script: str) -> Any:
        registered.append(script)
        return register(script)

    monkeypatch.setattr(client, "register_script", counting)
    now = 1_700_000_000.0
    config = Breakers(min_calls=1)
    for _ in range(3):
        breaker = Breaker(client=client, keys=Keys(redis_namespace), config=config, model_key=MODEL)
        breaker.record(ok=False, latency_s=0.1, now=now)  # opens: a CAS
        breaker.record_probe(ok=True, now=now)  # closes: another CAS
    assert len(registered) == 3  # allow, record, CAS: once


@pytest.mark.parametrize("seed", range(25))
def test_random_sequences_move_the_breaker_as_the_former_code_did(
    client: redis.Redis, redis_namespace: str, seed: int
) -> None:
    rng = random.Random(seed)
    config = random_config(rng)
    new = Breaker(
        client=client, keys=Keys(f"{redis_namespace}:new"), config=config, model_key=MODEL
    )
    old = LegacyBreaker(
        client=client, keys=Keys(f"{redis_namespace}:old"), config=config, model_key=MODEL
    )
    now = 1_700_000_000 + rng.uniform(0, 1000)
    fail_p = rng.choice([0.1, 0.5, 0.9])
    slow_p = rng.choice([0.0, 0.3, 0.9])
    opened = 0

    for step in range(150):
        got: list[object]
        op = rng.random()
        if op < 0.45:
            ok = rng.random() >= fail_p
            latency = config.slow_call_s + 1 if rng.random() < slow_p else 0.1
            got = [b.record(ok=ok, latency_s=latency, now=now) for b in (new, old)]
        elif op < 0.8:
            got = [b.allow(now=now) for b in (new, old)]
        elif op < 0.84:
            for b in (new, old):
                b.hold(60)  # long: cleared below, never by the clock
            got = [None, None]
        elif op < 0.9:
            got = [client.delete(b.keys.breaker_hold(MODEL)) for b in (new, old)]
        elif op < 0.93:
            ok = rng.random() < 0.7
            got = [b.record_probe(ok=ok, now=now) for b in (new, old)]
        else:
            got = [None, None]
            now += config.open_s + rng.uniform(0, 1)
        assert got[0] == got[1], f"step {step}"
        assert new.state() == old.state(), f"step {step}"
        assert new.window(now=now) == old.window(now=now), f"step {step}"
        trials = [client.exists(b.keys.breaker_trial(MODEL)) for b in (new, old)]
        assert trials[0] == trials[1], f"step {step}"
        opened += new.state()[0] != BreakerState.closed
        now += rng.uniform(0, config.window_s / 4)

    assert opened or fail_p < 0.5  # the sequences do exercise the open states
