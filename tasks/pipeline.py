"""One task per pipeline step, made from the `Step` enum; each body is `run_step`."""

from __future__ import annotations

from typing import Any

from celery import Task

from app.errors import DatabaseUnavailable
from app.lifecycle import Step
from app.pipeline.task import run_step
from tasks import app

DB_RETRY_COUNTDOWN_S = 2
DB_MAX_RETRIES = 30


def _step_task(step: Step) -> Any:
    @app.task(name=step.task_name, bind=True)
    def _task(self: Task, message_id: str) -> str:
        try:
            outcome = run_step(step, message_id)
        except DatabaseUnavailable as exc:
            raise self.retry(
                exc=exc, countdown=DB_RETRY_COUNTDOWN_S, max_retries=DB_MAX_RETRIES
            ) from exc
        if outcome.kind == "retry":
            raise self.retry(countdown=outcome.retry_in_s, max_retries=None)
        return outcome.kind

    _task.__doc__ = f"Pipeline step `{step}` for one message id."
    return _task


STEP_TASKS = {step: _step_task(step) for step in Step}
