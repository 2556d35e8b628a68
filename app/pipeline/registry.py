"""The step registry: the work each `Step` does. The runner looks a step up here; the
tasks, Celery's routes and the reconciler iterate `Step` itself, and a step's queue
and resume state are facts of the lifecycle (`app/lifecycle`, `app/broker/queues`)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from app.db.models import Message
from app.lifecycle import Step
from app.pipeline import outbound, steps
from app.pipeline.transition import Change
from app.policy import Policy


class StepWork(Protocol):
    """A step's work on a loaded message: a `Change` to commit, or None to wait."""

    def __call__(self, message: Message, *, policy: Policy, now: dt.datetime) -> Change | None: ...


WORK: dict[Step, StepWork] = {
    Step.ingest: steps.ingest,
    Step.classify: steps.classify,
    Step.draft: steps.draft,
    Step.check: outbound.check,
    Step.deliver: outbound.deliver,
}


def work_of(step: Step) -> StepWork:
    return WORK[step]
