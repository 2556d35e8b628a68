"""What one pipeline task does, as a plain function: count the start, run the step,
then either run the next step in the same task or enqueue it. `tasks/pipeline.py` only
maps the outcome onto Celery's retry.

Running on: when the worker consumes the queue the next step goes to (one worker
consuming every queue, the Procfile's default), the next step runs in the same task
instead of a round trip through Redis (publish, fetch, three worker events, the late
ack). Each step still loads, commits, audits and traces on its own, and still counts
its start for the poison limit; the step lease is handed from one step to the next, so
the reconciler never sees a gap. A worker split per queue (README, "Scaling") runs one
step per task as before. It stops running on once the task has used RUN_ON_WITHIN_S,
so a task stays inside Celery's time limits however many steps it runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import sentry_sdk
import sqlalchemy as sa
from celery.exceptions import SoftTimeLimitExceeded

from app.broker import celery_app, enqueue, queue_for
from app.broker.queues import STEP_MARGIN_S, TASK_SOFT_TIME_LIMIT_S
from app.db.models import MessageState
from app.errors import DatabaseUnavailable
from app.lifecycle import Step
from app.observability import counters
from app.observability.logging import step_context
from app.pipeline import crashes
from app.pipeline.runner import (
    Loaded,
    Outcome,
    execute,
    give_up_poison,
    load_message,
    out_of_time,
)
from app.policy import get_policy
from app.providers.deadline import step_deadline
from app.state.leases import lease_holder

log = logging.getLogger("keel.tasks")
# A task starts another step only within this many seconds of its start, so the step
# still has (soft limit - margin - this) = 35 s for its model calls before the limit.
RUN_ON_WITHIN_S = 15.0


class StepDatabaseUnavailable(DatabaseUnavailable):
    """The database is away while `step` ran (the message is still at that step);
    `queue` is where the step runs when the task had run on to it, None for the task's
    own step."""

    def __init__(self, detail: str, *, step: Step, queue: str | None) -> None:
        super().__init__(detail)
        self.step = step
        self.queue = queue


@dataclass(frozen=True)
class Ran:
    """The last step a task ran, its outcome, and, when the task ran on to it, its
    queue (None: the task's own step)."""

    step: Step
    outcome: Outcome
    queue: str | None = None


def run_step(step: Step, message_id: str) -> Outcome:
    """Run one step and enqueue the next one (see `run_steps`)."""
    return run_steps(step, message_id).outcome


def run_steps(
    step: Step,
    message_id: str,
    *,
    runs_here: Callable[[str], bool] | None = None,
    holder: str | None = None,
    redelivered: bool = False,
) -> Ran:
    """Execute `step`, then each next step whose queue `runs_here`, in this task while
    it is young enough; enqueue the first next step that does not run here.

    A message whose task keeps killing its worker, or keeps raising an error Keel has no
    rule for (a bug: it reaches Sentry), is dead-lettered `poison` after the policy's
    limit instead of looping through the reconciler forever: any exception but the
    database's leaves the start counted, like a worker that died.

    Model calls end before the task's soft time limit (`step_deadline`); reaching the limit
    anyway is handled as a late answer (`out_of_time`), never counted as a crash.

    `holder` (the task's id) holds the step lease. A task redelivered because the worker
    running it died (`redelivered`) finds the message at the step that worker had run on
    to, its lease still held by this same task id: that step is orphaned, and the task
    takes it over (counting the start, so a step that keeps killing workers still ends
    `poison`). A step whose lease another task holds is left to it, as before.

    Raises:
        StepDatabaseUnavailable: the database is away; the message is still at the
            step the exception names.
    """
    policy = get_policy()
    task_began = time.monotonic()
    queue: str | None = None
    loaded: Loaded | None = None
    if redelivered and holder is not None and runs_here is not None:
        step, queue = _take_over(step, message_id, holder=holder, runs_here=runs_here)
    started = crashes.begin(message_id, step, holder=holder or "1")
    while True:
        if started > policy.retries.poison_after_crashes:
            crashes.clear(message_id, step)
            return Ran(step, give_up_poison(step, message_id, crashes=started), queue)
        left_s = TASK_SOFT_TIME_LIMIT_S - STEP_MARGIN_S - (time.monotonic() - task_began)
        outcome = _execute_counted(step, message_id, left_s=left_s, queue=queue, loaded=loaded)
        advance = (
            Step(outcome.next_step) if outcome.kind == "advanced" and outcome.next_step else None
        )
        if advance is not None and runs_here is not None:
            next_queue = queue_for(advance, tier=outcome.tier, policy=policy)
            if time.monotonic() - task_began < RUN_ON_WITHIN_S and runs_here(next_queue):
                started = crashes.hand_over(message_id, step, advance, holder=holder or "1")
                step, queue, loaded = advance, next_queue, outcome.committed
                continue
        crashes.end(message_id, step, mark_queued=advance is not None)
        if advance is not None:
            enqueue(advance, message_id, tier=outcome.tier, policy=policy, marked=True)
        return Ran(step, outcome, queue)


def _take_over(
    step: Step, message_id: str, *, holder: str, runs_here: Callable[[str], bool]
) -> tuple[Step, str | None]:
    """The step to start a redelivered task at: its own, or the one an earlier delivery
    of it ran on to and died in (the lease is still this task id's)."""
    if lease_holder(message_id) != holder:
        return step, None
    loaded = load_message(message_id)
    if loaded is None:
        return step, None
    message = loaded.message
    if MessageState(message.state).is_terminal or message.next_step in (None, step):
        return step, None
    later = Step(message.next_step)
    queue = queue_for(later, tier=message.tier, policy=get_policy())
    if not runs_here(queue):
        return step, None
    log.warning("taking over the step a dead worker ran on to", extra={"step": str(later)})
    return later, queue


def _execute_counted(
    step: Step, message_id: str, *, left_s: float, queue: str | None, loaded: Loaded | None
) -> Outcome:
    """One step, timed for /metrics and logged with its outcome; a soft time limit
    becomes `out_of_time`."""
    began = time.perf_counter()
    kind = "error"
    try:
        sentry_sdk.set_tag("step", str(step))  # the step run on to, not the task's
        with (
            sentry_sdk.start_span(op="keel.step", name=str(step)),
            step_context(step),
            step_deadline(left_s),
        ):
            outcome = execute(step, message_id, loaded=loaded)
            log.info("step finished", extra={"outcome": outcome.kind})
        kind = outcome.kind
        return outcome
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        crashes.end(message_id, step)
        kind = "database_unavailable"
        raise StepDatabaseUnavailable(type(exc).__name__, step=step, queue=queue) from exc
    except SoftTimeLimitExceeded:
        # (prefork) a wait the step's deadline does not bound: late, not a crash
        crashes.end(message_id, step)
        kind = "out_of_time"
        return out_of_time(step, message_id)
    finally:
        elapsed_s = time.perf_counter() - began
        counters.STEP_SECONDS.labels(step=str(step), outcome=kind).observe(elapsed_s)


def send_later(step: Step, message_id: str, *, queue: str, countdown_s: float) -> None:
    """Send `step` for the message to `queue` after `countdown_s` (a step a task ran
    on to and that must be tried again: Celery's retry would re-send the task's own)."""
    celery_app.send_task(step.task_name, args=[message_id], queue=queue, countdown=countdown_s)
