"""One task per pipeline step; each body is `run_step` and nothing else."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from celery import Task

from app.pipeline import crashes
from app.pipeline.enqueue import enqueue
from app.pipeline.runner import current_policy, execute, give_up_poison
from tasks import app

DB_RETRY_COUNTDOWN_S = 2
DB_MAX_RETRIES = 30


def run_step(task: Task, step: str, message_id: str) -> str:
    """Execute the step; enqueue the next one, or retry this one after a short backoff.

    A message whose task keeps killing its worker, or keeps raising an error Keel has no
    rule for (a bug: it reaches Sentry), is dead-lettered `poison` after the policy's
    limit instead of looping through the reconciler forever."""
    policy = current_policy()
    started = crashes.begin(message_id, step)
    if started > policy.retries.poison_after_crashes:
        crashes.clear(message_id, step)
        return give_up_poison(step, message_id, crashes=started).kind
    try:
        outcome = execute(step, message_id)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        # The database is away: try again shortly; the message is still at this step.
        crashes.end(message_id, step)
        raise task.retry(
            exc=exc, countdown=DB_RETRY_COUNTDOWN_S, max_retries=DB_MAX_RETRIES
        ) from exc
    # Any other exception leaves the start counted, like a worker that died.
    advance = outcome.next_step if outcome.kind == "advanced" else None
    crashes.end(message_id, step, mark_queued=advance is not None)
    if advance:
        enqueue(advance, message_id, tier=outcome.tier, policy=policy, marked=True)
    elif outcome.kind == "retry":
        raise task.retry(countdown=outcome.retry_in_s, max_retries=None)
    return outcome.kind


def _step_task(step: str) -> Any:
    @app.task(name=f"keel.{step}", bind=True)
    def _task(self: Task, message_id: str) -> str:
        return run_step(self, step, message_id)

    _task.__doc__ = f"Pipeline step `{step}` for one message id."
    return _task


ingest = _step_task("ingest")
classify = _step_task("classify")
draft = _step_task("draft")
check = _step_task("check")
deliver = _step_task("deliver")
