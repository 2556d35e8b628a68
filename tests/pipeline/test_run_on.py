"""A task runs on to the next step when its worker consumes that step's queue
(`app/pipeline/task.py`): the same effects as one task per step, one round trip through
Redis instead of five, and a step run on to that must be tried again goes back to its
own queue."""

from __future__ import annotations

from typing import Any

import pytest

from app.lifecycle import Step
from app.pipeline import crashes, task
from app.pipeline.runner import execute, load_message
from app.pipeline.task import run_steps, send_later
from app.state import get_redis, keys
from app.state.leases import live_leases
from tests.pipeline.test_steps import actions, load, new_message, sim_calls

EVERY_QUEUE = lambda queue: True  # noqa: E731 - a worker consuming every queue


def queued(queue: str) -> int:
    """Tasks waiting on one of Keel's Celery queues (kombu's Redis list)."""
    return int(get_redis().llen(keys().queue(queue)))


def crash_counters(message_id: str) -> list[bytes]:
    return list(get_redis().scan_iter(match=keys().crashes(message_id, "*")))


@pytest.mark.parametrize(
    ("text", "commits_at_once"),
    [
        ("Hola, ¿cuánto cuesta el curso intensivo de inglés?", 5),  # sent
        ("muchas gracias!", 2),  # no reply
        ("Quiero hablar con una persona, no con un robot.", 1),  # escalated
    ],
)
def test_each_commit_hands_on_the_message_as_a_fresh_read_finds_it(
    text: str, commits_at_once: int, simulator: str, receiver: Any, open_window_policy: str
) -> None:
    """The next step may start from `Outcome.committed` only because it is, column for
    column, what reading the row again returns, the audit chain's head included."""
    mid = new_message(text, external_id=f"wa-{abs(hash(text))}")
    step: str | None = "ingest"
    handed = 0
    while step:
        outcome = execute(step, mid)
        if outcome.kind != "advanced":
            break
        fresh = load_message(mid)
        assert fresh is not None
        if outcome.committed is not None:
            handed += 1
            assert outcome.committed.message.model_dump() == fresh.message.model_dump(), step
            assert outcome.committed.audit_head == fresh.audit_head, step
        step = outcome.next_step
    assert handed == commits_at_once


def test_a_worker_consuming_every_queue_runs_the_whole_pipeline_in_one_task(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = new_message()
    ran = run_steps(Step.ingest, mid, runs_here=EVERY_QUEUE)
    assert ran.step == Step.deliver and ran.queue == "keel.deliver"
    message = load(mid)
    assert message.state == "sent" and len(receiver.accepted()) == 1
    assert sim_calls(simulator) == 2
    # the same record as five tasks leave (tests/pipeline/test_steps.py)
    assert actions(mid)[0] == "received" and actions(mid)[-1] == "sent"
    assert actions(mid).count("model_call") == 2
    # nothing left behind: no queued step, no lease, no start counted
    assert all(queued(q) == 0 for q in ("keel.fast", "keel.standard", "keel.deliver"))
    assert live_leases([mid]) == set()
    assert crash_counters(mid) == []
    assert not get_redis().exists(keys().queued_marker(mid))


def test_a_worker_split_per_queue_runs_its_own_step_and_enqueues_the_next(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = new_message()
    ran = run_steps(Step.ingest, mid, runs_here=lambda queue: queue == "keel.ingest")
    assert ran.step == Step.ingest and ran.queue is None
    assert load(mid).next_step == "classify"
    assert queued("keel.fast") == 1  # classify, on the classification tier's queue
    assert get_redis().exists(keys().queued_marker(mid))  # the reconciler leaves it
    assert sim_calls(simulator) == 0


def test_a_task_past_its_run_on_time_enqueues_the_next_step(
    simulator: str, receiver: Any, open_window_policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task, "RUN_ON_WITHIN_S", 0.0)
    mid = new_message()
    ran = run_steps(Step.ingest, mid, runs_here=EVERY_QUEUE)
    assert ran.step == Step.ingest
    assert queued("keel.fast") == 1


def test_a_step_run_on_to_that_must_be_tried_again_names_its_own_queue(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    """A webhook 503 in `deliver`, reached from `ingest`'s task: the task must re-send
    `deliver` (Celery's retry would re-send `ingest`, which would only skip)."""
    receiver.answer_status = 503
    mid = new_message()
    ran = run_steps(Step.ingest, mid, runs_here=EVERY_QUEUE)
    assert (ran.step, ran.queue, ran.outcome.kind) == (Step.deliver, "keel.deliver", "retry")
    assert load(mid).next_step == "deliver" and load(mid).state == "drafted"
    assert live_leases([mid]) == set()  # the retry is a new start
    send_later(ran.step, mid, queue=ran.queue, countdown_s=ran.outcome.retry_in_s)
    assert queued("keel.deliver") == 1


def test_a_task_redelivered_after_its_worker_died_takes_over_the_step_it_had_run_on_to(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    """The worker ran `ingest`'s task on into `classify` and died there: Celery hands
    `ingest`'s task (same id) to another worker, which must run `classify`, not skip."""
    mid = new_message()
    assert execute("ingest", mid).kind == "advanced"
    crashes.hand_over(mid, "ingest", "classify", holder="task-1")  # then the worker died
    ran = run_steps(Step.ingest, mid, runs_here=EVERY_QUEUE, holder="task-1", redelivered=True)
    assert ran.step == Step.deliver and load(mid).state == "sent"
    assert get_redis().get(keys().crashes(mid, "classify")) == b"1"  # the dead start counts


def test_a_redelivered_task_leaves_a_step_another_task_is_running(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = new_message()
    assert execute("ingest", mid).kind == "advanced"
    crashes.begin(mid, "classify", holder="task-2")  # another worker runs classify now
    ran = run_steps(Step.ingest, mid, runs_here=EVERY_QUEUE, holder="task-1", redelivered=True)
    assert (ran.step, ran.outcome.kind) == (Step.ingest, "skipped")
    assert load(mid).next_step == "classify" and sim_calls(simulator) == 0
