"""Backoff between retries: exponential, capped, and a retry-after hint wins when longer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.policy import Retries

RETRIES = Retries(backoff_base_s=1.0, backoff_max_s=30.0)


def test_the_wait_doubles_from_the_base() -> None:
    assert [RETRIES.backoff_s(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]


def test_the_wait_never_passes_the_cap() -> None:
    assert RETRIES.backoff_s(50) == 30.0


def test_a_longer_retry_after_wins_and_a_shorter_one_does_not() -> None:
    assert RETRIES.backoff_s(1, 7.0) == 7.0
    assert RETRIES.backoff_s(4, 0.5) == 8.0
    assert RETRIES.backoff_s(1, 3600.0) == 30.0  # a hint cannot hold a worker past the cap


@given(attempt=st.integers(0, 10_000), hint=st.none() | st.floats(0, 1e9))
def test_every_wait_is_between_the_base_and_the_cap(attempt: int, hint: float | None) -> None:
    wait = RETRIES.backoff_s(attempt, hint)
    assert RETRIES.backoff_base_s <= wait <= RETRIES.backoff_max_s
