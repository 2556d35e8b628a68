"""The failover chain has a deadline (issue 13): every model call gets the smaller of its
own timeout and the time the step has left, the chain stops when too little is left, a
provider that accepts connections and never answers parks the message (it is not made
`poison`, and its breaker is not blamed for a call the deadline cut short), and a task
that reaches Celery's soft time limit anyway is retried, then dead-lettered `max_attempts`,
never counted as a crash."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import app.pipeline.task as task_module
from app.lifecycle import Step
from app.pipeline import crashes
from app.pipeline.runner import execute, out_of_time
from app.pipeline.task import run_step
from app.policy import get_policy
from app.providers import deadline
from app.providers.breaker import BreakerState
from app.providers.chain import DEADLINE, MIN_CALL_S
from app.providers.health import breaker_for
from tests.pipeline.test_steps import actions, load, new_message, sim_calls

# The simulator holds classification calls this long: past the step's deadline below,
# below the model timeout (20 s), so only the deadline can end the call.
HUNG_MS = 12_000


def model_call_statuses(message_id: str) -> list[str]:
    from app.audit import timeline
    from app.db import session_scope

    with session_scope() as session:
        events = timeline(session, message_id)
    return [str(e.detail.get("keel.status")) for e in events if e.action == "model_call"]


def hang_classification(simulator: str) -> None:
    rule = {"name": "hung", "when": {"task": "classify"}, "latency_ms": HUNG_MS}
    httpx.post(f"{simulator}/_sim/rules", json=rule).raise_for_status()


def test_a_provider_that_never_answers_parks_the_message_within_the_step_deadline(
    simulator: str, open_window_policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a step that has 5 s for its model calls, and a primary that accepts the
    # connection and does not answer for longer than that
    monkeypatch.setattr(task_module, "TASK_SOFT_TIME_LIMIT_S", 9)
    monkeypatch.setattr(task_module, "STEP_MARGIN_S", 4)
    hang_classification(simulator)
    mid = new_message(external_id="wa-hung")
    assert run_step(Step.ingest, mid).kind == "advanced"

    # When the classify task runs
    outcome = run_step(Step.classify, mid)

    # Then the one call the deadline allowed was cut short, nothing else was asked, and
    # the message waits parked for a probe, like one whose providers are down
    assert outcome.kind == "parked"
    message = load(mid)
    assert (message.state, message.next_step) == ("parked", "classify")
    assert model_call_statuses(mid) == [DEADLINE]
    assert "dead_lettered" not in actions(mid)
    # And the start is not left counted as a crash: no road to `poison`
    assert crashes.begin(mid, "classify") == 1
    # And no provider's breaker was blamed for the call the deadline cut short
    policy = get_policy()
    for ref in policy.tiers[policy.routing.classify_tier].chain:
        assert breaker_for(policy, ref).state()[0] == BreakerState.closed, ref.key


def test_with_too_little_time_left_the_chain_makes_no_call_at_all(
    simulator: str, open_window_policy: str
) -> None:
    mid = new_message(external_id="wa-late")
    execute("ingest", mid)
    with deadline.step_deadline(MIN_CALL_S / 2):
        outcome = execute("classify", mid)
    assert outcome.kind == "parked"
    assert sim_calls(simulator) == 0
    assert model_call_statuses(mid) == [DEADLINE]


def test_outside_any_step_there_is_no_deadline() -> None:
    assert deadline.remaining_s() is None
    with deadline.step_deadline(30):
        left = deadline.remaining_s()
        assert left is not None and 0 < left <= 30
    assert deadline.remaining_s() is None


def test_a_task_past_the_soft_time_limit_is_retried_then_dead_lettered_never_poison(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = new_message(external_id="wa-soft-limit")
    execute("ingest", mid)
    attempts = get_policy().retries.attempts_per_step
    kinds = [out_of_time("classify", mid).kind for _ in range(attempts)]
    assert kinds == ["retry"] * (attempts - 1) + ["dead"]
    message = load(mid)
    assert (message.state, message.reason) == ("dead", "max_attempts")
