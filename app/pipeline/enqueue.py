"""Putting a step on its queue. Redis carries the message id and nothing else."""

from __future__ import annotations

from collections.abc import Iterable

from app.policy import Policy

STEP_QUEUES = {
    "ingest": "keel.ingest",
    "check": "keel.deliver",
    "deliver": "keel.deliver",
}
ALL_QUEUES = (
    "keel.ingest",
    "keel.fast",
    "keel.standard",
    "keel.flagship",
    "keel.deliver",
    "keel.maintenance",
)


def queue_for(step: str, *, tier: str | None, policy: Policy) -> str:
    if step == "classify":
        return f"keel.{policy.routing.classify_tier}"
    if step == "draft":
        return f"keel.{tier or policy.routing.draft_tier}"
    return STEP_QUEUES[step]


def enqueue(step: str, message_id: str, *, tier: str | None, policy: Policy) -> None:
    """Send `keel.<step>` for one message to its queue."""
    from tasks import app as celery_app

    celery_app.send_task(
        f"keel.{step}", args=[message_id], queue=queue_for(step, tier=tier, policy=policy)
    )


def enqueue_many(items: Iterable[tuple[str, str, str | None]], *, policy: Policy) -> int:
    """Send many steps over one connection; returns how many."""
    from tasks import app as celery_app

    count = 0
    with celery_app.producer_or_acquire() as producer:
        for step, message_id, tier in items:
            celery_app.send_task(
                f"keel.{step}",
                args=[message_id],
                queue=queue_for(step, tier=tier, policy=policy),
                producer=producer,
            )
            count += 1
    return count
