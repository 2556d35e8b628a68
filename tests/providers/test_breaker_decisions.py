"""When a closed breaker trips: a pure decision over one window's counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.policy.models import Breakers
from app.providers.breaker import WindowStats, trip_reason

CONFIG = Breakers(min_calls=5, failure_rate=0.5, slow_rate=0.8)


def test_too_few_calls_never_trip_however_bad() -> None:
    assert trip_reason(WindowStats(calls=4, failures=4, slow=4), CONFIG) is None


def test_half_the_calls_failing_trips_on_failure_rate() -> None:
    assert trip_reason(WindowStats(calls=10, failures=5, slow=0), CONFIG) == "failure_rate"


def test_slow_calls_trip_on_the_slow_rate_when_failures_stay_low() -> None:
    assert trip_reason(WindowStats(calls=10, failures=1, slow=8), CONFIG) == "slow_call_rate"


def test_a_healthy_window_stays_closed() -> None:
    assert trip_reason(WindowStats(calls=100, failures=10, slow=10), CONFIG) is None


@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
def test_a_trip_needs_min_calls_and_one_rate_over_its_limit(
    calls: int, failures: int, slow: int
) -> None:
    failures, slow = min(failures, calls), min(slow, calls)
    reason = trip_reason(WindowStats(calls, failures, slow), CONFIG)
    if reason is not None:
        assert calls >= CONFIG.min_calls
        assert failures / calls >= CONFIG.failure_rate or slow / calls >= CONFIG.slow_rate
    elif calls >= CONFIG.min_calls:
        assert failures / calls < CONFIG.failure_rate and slow / calls < CONFIG.slow_rate
