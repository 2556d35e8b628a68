"""One task per pipeline step, made from the `Step` enum; each body is `run_steps`."""

from __future__ import annotations

from typing import Any

from celery import Task

from app.config import get_settings
from app.lifecycle import Step
from app.pipeline.task import StepDatabaseUnavailable, run_steps, send_later
from tasks import app

DB_RETRY_COUNTDOWN_S = 2
DB_MAX_RETRIES = 30


def _consumed_queues(task: Task) -> frozenset[str] | None:
    """The queues this worker consumes, when the task came from one of them and the
    settings let a task run on to the next step; None: one step per task."""
    if task.request.called_directly or task.request.is_eager or not task.request.delivery_info:
        return None
    if not get_settings().keel_run_on:
        return None
    return frozenset(task.app.amqp.queues.consume_from)


def _step_task(step: Step) -> Any:
    @app.task(name=step.task_name, bind=True)
    def _task(self: Task, message_id: str) -> str:
        queues = _consumed_queues(self)
        try:
            ran = run_steps(
                step,
                message_id,
                runs_here=None if queues is None else queues.__contains__,
                holder=self.request.id,
                redelivered=bool((self.request.delivery_info or {}).get("redelivered")),
            )
        except StepDatabaseUnavailable as exc:
            if exc.queue is None:
                raise self.retry(
                    exc=exc, countdown=DB_RETRY_COUNTDOWN_S, max_retries=DB_MAX_RETRIES
                ) from exc
            send_later(exc.step, message_id, queue=exc.queue, countdown_s=DB_RETRY_COUNTDOWN_S)
            return "database_unavailable"
        outcome = ran.outcome
        if outcome.kind == "retry":
            if ran.queue is None:
                raise self.retry(countdown=outcome.retry_in_s, max_retries=None)
            send_later(ran.step, message_id, queue=ran.queue, countdown_s=outcome.retry_in_s)
        return outcome.kind

    _task.__doc__ = f"Pipeline step `{step}` for one message id (and the steps it runs on to)."
    return _task


STEP_TASKS = {step: _step_task(step) for step in Step}
