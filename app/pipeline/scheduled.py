"""Releasing what waits on the clock in the database, not in Celery countdowns: replies
held for the contact's send window, and messages held for a burst's quiet period."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import col, select

from app.broker import enqueue_many
from app.db import session_scope
from app.db.models import Message, MessageState, utcnow
from app.lifecycle import Step
from app.policy import get_policy


def release_due(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Enqueue `deliver` for every scheduled message due by `now`; returns how many."""
    now = now or utcnow()
    with session_scope() as session:
        ids = session.exec(
            select(Message.id)
            .where(Message.state == MessageState.scheduled, col(Message.send_at) <= now)
            .order_by(col(Message.send_at))
            .limit(limit)
        ).all()
    return enqueue_many(((Step.deliver, mid, None) for mid in ids), policy=get_policy())


_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


def release_held(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Enqueue `classify` for every message whose burst has been quiet long enough.

    Each is claimed by clearing its `hold_until` in one UPDATE, so two beat ticks never
    enqueue it twice; if the enqueue is lost (Redis away), the reconciler finds it.
    Only a timer is cleared: the message's state and version do not change."""
    now = now or utcnow()
    due = (
        sa.select(_MESSAGES.c.id)
        .where(
            _MESSAGES.c.state == MessageState.received,
            _MESSAGES.c.next_step == Step.classify.value,
            _MESSAGES.c.hold_until <= now,
        )
        .order_by(_MESSAGES.c.hold_until)
        .limit(limit)
        .scalar_subquery()
    )
    with session_scope() as session:
        ids = list(
            session.execute(
                sa.update(_MESSAGES)
                .where(_MESSAGES.c.id.in_(due), _MESSAGES.c.hold_until <= now)
                .values(hold_until=None)
                .returning(_MESSAGES.c.id, _MESSAGES.c.tier)
            ).all()
        )
    return enqueue_many(((Step.classify, mid, tier) for mid, tier in ids), policy=get_policy())
