"""Keel's queue names (SPEC 1) and the queue of each step.

`classify` runs on the queue of the policy's classification tier and `draft` on the
queue of the message's tier (`keel.fast`, `keel.standard` or `keel.flagship`), so each
tier's workers can be scaled on their own; the other steps have a fixed queue.
"""

from __future__ import annotations

from app.lifecycle import Step
from app.policy import Policy

# The longest a task can run: Celery's soft and hard limits (prefork enforces them), far
# below the visibility timeout, so Redis never hands a running task to a second worker.
# A step's model calls end STEP_MARGIN_S before the soft limit, whatever the pool
# (app/providers/deadline.py), leaving room to park or commit what they returned.
TASK_SOFT_TIME_LIMIT_S = 60
TASK_TIME_LIMIT_S = 90
VISIBILITY_TIMEOUT_S = 3600
STEP_MARGIN_S = 10

DEFAULT_QUEUE = "keel.ingest"
MAINTENANCE_QUEUE = "keel.maintenance"
ALL_QUEUES = (
    "keel.ingest",
    "keel.fast",
    "keel.standard",
    "keel.flagship",
    "keel.deliver",
    MAINTENANCE_QUEUE,
)

# The queue of each step when nothing says otherwise (Celery's task routes).
DEFAULT_STEP_QUEUE: dict[Step, str] = {
    Step.ingest: "keel.ingest",
    Step.classify: "keel.fast",
    Step.draft: "keel.standard",
    Step.check: "keel.deliver",
    Step.deliver: "keel.deliver",
}


def tier_queue(tier: str) -> str:
    return f"keel.{tier}"


def queue_for(step: str, *, tier: str | None, policy: Policy) -> str:
    """The queue `step` of a message at `tier` goes to under `policy`."""
    match Step(step):
        case Step.classify:
            return tier_queue(policy.routing.classify_tier)
        case Step.draft:
            return tier_queue(tier or policy.routing.draft_tier)
        case other:
            return DEFAULT_STEP_QUEUE[other]
