"""The pipeline's steps, in order, and the state a message resumes in at each."""

from __future__ import annotations

from enum import StrEnum

from app.db.models import MessageState


class Step(StrEnum):
    """A step of the pipeline; its Celery task is `keel.<step>`."""

    ingest = "ingest"
    classify = "classify"
    draft = "draft"
    check = "check"
    deliver = "deliver"

    @property
    def task_name(self) -> str:
        return f"keel.{self.value}"


# The state a message is in while it waits for each step: where a parked message
# returns when it drains and a dead letter when it is replayed.
RESUME_STATE: dict[Step, MessageState] = {
    Step.ingest: MessageState.received,
    Step.classify: MessageState.received,
    Step.draft: MessageState.classified,
    Step.check: MessageState.drafted,
    Step.deliver: MessageState.drafted,
}


def resume_state(step: str | None) -> MessageState:
    """The state for a message resuming at `step` (`received` for an unknown one)."""
    try:
        return RESUME_STATE[Step(step or Step.ingest)]
    except ValueError:
        return MessageState.received
