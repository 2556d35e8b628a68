"""Releasing replies held for the contact's send window once their time has come."""

from __future__ import annotations

import datetime as dt

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
