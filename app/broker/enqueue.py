"""Putting a step on its queue.

Each enqueue also sets a short-lived marker (`queued:<id>`) that the task deletes when
it starts; the reconciler re-enqueues only stalled messages without one, so a backlog
is not enqueued twice while a lost queue is still noticed.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.broker.celery import celery_app
from app.broker.queues import queue_for
from app.lifecycle import Step
from app.policy import Policy
from app.state import get_redis, keys

QUEUED_MARKER_TTL_S = 3600


def enqueue(
    step: str, message_id: str, *, tier: str | None, policy: Policy, marked: bool = False
) -> None:
    """Send `keel.<step>` for one message to its queue (`marked`: the caller has set
    its queued marker already)."""
    enqueue_many([(step, message_id, tier)], policy=policy, marked=marked)


def enqueue_many(
    items: Iterable[tuple[str, str, str | None]], *, policy: Policy, marked: bool = False
) -> int:
    """Send many steps over one connection; returns how many."""
    batch = list(items)
    if not batch:
        return 0
    if not marked:
        k = keys()
        pipe = get_redis().pipeline(transaction=False)
        for _, message_id, _ in batch:
            pipe.set(k.queued_marker(message_id), 1, ex=QUEUED_MARKER_TTL_S)
        pipe.execute()
    with celery_app.producer_or_acquire() as producer:
        for step, message_id, tier in batch:
            celery_app.send_task(
                Step(step).task_name,
                args=[message_id],
                queue=queue_for(step, tier=tier, policy=policy),
                producer=producer,
            )
    return len(batch)
