"""The reconciler: the database, not Redis, says what is still to do. Messages in a
working state with no progress for `stalled_after_s` and no live queue marker are
enqueued again at their step, so a Redis that lost its queues, or a worker killed while
holding a task, loses no work. Re-running a step is harmless: steps are idempotent."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import col, select

from app.audit import record
from app.db import session_scope
from app.db.models import Message, MessageState, utcnow
from app.pipeline.enqueue import enqueue_many
from app.policy import Policy
from app.state import get_redis, keys

WORKING_STATES = (MessageState.received, MessageState.classified, MessageState.drafted)


def reconcile(*, policy: Policy, now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Re-enqueue stalled messages; returns how many."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=policy.retries.stalled_after_s)
    with session_scope() as session:
        stalled = session.exec(
            select(Message)
            .where(
                col(Message.state).in_(WORKING_STATES),
                col(Message.next_step).is_not(None),
                col(Message.updated_at) < cutoff,
            )
            .order_by(col(Message.updated_at))
            .limit(limit)
        ).all()
    if not stalled:
        return 0
    r, k = get_redis(), keys()
    pipe = r.pipeline(transaction=False)
    for message in stalled:
        pipe.exists(k.queued_marker(message.id))
    queued = pipe.execute()
    batch: list[tuple[str, str, str | None]] = []
    for message, marker in zip(stalled, queued, strict=True):
        if marker:
            continue
        with session_scope() as session:
            moved = session.execute(
                sa.update(Message)
                .where(col(Message.id) == message.id, col(Message.version) == message.version)
                .values(version=message.version + 1, updated_at=now)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                continue
            record(
                session,
                message_id=message.id,
                action="reconciled",
                actor="beat",
                step=message.next_step,
                trace_id=message.trace_id,
                detail={"stalled_s": round((now - message.updated_at).total_seconds(), 1)},
            )
        assert message.next_step is not None
        batch.append((message.next_step, message.id, message.tier))
    return enqueue_many(batch, policy=policy)
