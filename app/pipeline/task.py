"""What one pipeline task does, as a plain function: count the start, run the step,
enqueue the next one. `tasks/pipeline.py` only maps the outcome onto Celery's retry."""

from __future__ import annotations

import time

import sqlalchemy as sa
from celery.exceptions import SoftTimeLimitExceeded

from app.broker import enqueue
from app.broker.queues import STEP_MARGIN_S, TASK_SOFT_TIME_LIMIT_S
from app.errors import DatabaseUnavailable
from app.lifecycle import Step
from app.observability import counters
from app.pipeline import crashes
from app.pipeline.runner import Outcome, execute, give_up_poison, out_of_time
from app.policy import get_policy
from app.providers.deadline import step_deadline


def run_step(step: Step, message_id: str) -> Outcome:
    """Execute the step and enqueue the next one.

    A message whose task keeps killing its worker, or keeps raising an error Keel has no
    rule for (a bug: it reaches Sentry), is dead-lettered `poison` after the policy's
    limit instead of looping through the reconciler forever: any exception but the
    database's leaves the start counted, like a worker that died.

    Model calls end before the task's soft time limit (`step_deadline`); reaching the limit
    anyway is handled as a late answer (`out_of_time`), never counted as a crash.

    Raises:
        DatabaseUnavailable: the database is away; the message is still at this step.
    """
    policy = get_policy()
    started = crashes.begin(message_id, step)
    if started > policy.retries.poison_after_crashes:
        crashes.clear(message_id, step)
        return give_up_poison(step, message_id, crashes=started)
    began = time.perf_counter()
    kind = "error"
    try:
        with step_deadline(TASK_SOFT_TIME_LIMIT_S - STEP_MARGIN_S):
            outcome = execute(step, message_id)
        kind = outcome.kind
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        crashes.end(message_id, step)
        kind = "database_unavailable"
        raise DatabaseUnavailable(type(exc).__name__) from exc
    except SoftTimeLimitExceeded:
        # (prefork) a wait the step's deadline does not bound: late, not a crash
        crashes.end(message_id, step)
        kind = "out_of_time"
        return out_of_time(step, message_id)
    finally:
        elapsed_s = time.perf_counter() - began
        counters.STEP_SECONDS.labels(step=str(step), outcome=kind).observe(elapsed_s)
    advance = outcome.next_step if outcome.kind == "advanced" else None
    crashes.end(message_id, step, mark_queued=advance is not None)
    if advance:
        enqueue(advance, message_id, tier=outcome.tier, policy=policy, marked=True)
    return outcome
