"""Listing, replaying and purging dead letters.

A replay resumes the message at the step that failed, is audited (`replayed`), and is
a no-op for an entry already replayed or a message no longer dead (in flight again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select

from app.audit import Actor, record
from app.broker import enqueue
from app.db import session_scope
from app.db.models import DeadLetter, Message, MessageState, utcnow
from app.lifecycle import move, resume_state
from app.policy import Policy


@dataclass(frozen=True)
class DeadLetterFilter:
    ids: tuple[int, ...] = ()
    message_ids: tuple[str, ...] = ()
    reason: str | None = None
    since: dt.datetime | None = None
    include_replayed: bool = False
    limit: int | None = None


def list_dead_letters(flt: DeadLetterFilter) -> list[DeadLetter]:
    query = select(DeadLetter)
    if flt.ids or flt.message_ids:
        query = query.where(
            sa.or_(col(DeadLetter.id).in_(flt.ids), col(DeadLetter.message_id).in_(flt.message_ids))
        )
    if flt.reason:
        query = query.where(DeadLetter.reason == flt.reason)
    if flt.since:
        query = query.where(col(DeadLetter.created_at) >= flt.since)
    if not flt.include_replayed:
        query = query.where(col(DeadLetter.replayed_at).is_(None))
    query = query.order_by(col(DeadLetter.created_at), col(DeadLetter.id))
    if flt.limit:
        query = query.limit(flt.limit)
    with session_scope() as session:
        return list(session.exec(query).all())


def count_by_reason() -> dict[str, int]:
    """Dead letters not yet replayed, by reason code, most first."""
    query = (
        sa.select(col(DeadLetter.reason), sa.func.count())
        .where(col(DeadLetter.replayed_at).is_(None))
        .group_by(col(DeadLetter.reason))
        .order_by(sa.func.count().desc(), col(DeadLetter.reason))
    )
    with session_scope() as session:
        return {str(reason): int(count) for reason, count in session.execute(query).all()}


def get_dead_letter(entry_id: int) -> DeadLetter | None:
    with session_scope() as session:
        return session.get(DeadLetter, entry_id)


def replay_one(entry: DeadLetter, *, policy: Policy, actor: Actor = "cli") -> str:
    """Resume one dead letter's message at its failed step.

    Returns "replayed", or why nothing happened: "already_replayed", "not_dead"
    (the message is in flight again or finished), "missing".
    """
    if entry.message_id is None:
        return "missing"
    step = entry.step or "ingest"
    with session_scope() as session:
        claimed = session.execute(
            sa.update(DeadLetter)
            .where(col(DeadLetter.id) == entry.id, col(DeadLetter.replayed_at).is_(None))
            .values(replayed_at=utcnow())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return "already_replayed"
        message = session.get(Message, entry.message_id)
        if message is None:
            session.rollback()
            return "missing"
        moved = move(
            session,
            message,
            expect=MessageState.dead,
            to=resume_state(step),
            next_step=step,
            step_attempts=0,
            parked_at=None,
            parked_tier=None,
            park_reason=None,
        )
        if not moved:
            session.rollback()
            return "not_dead"
        record(
            session,
            message_id=message.id,
            action="replayed",
            actor=actor,
            step=step,
            trace_id=message.trace_id,
            detail={"dead_letter_id": entry.id, "reason": entry.reason},
        )
        tier = message.tier
    enqueue(step, entry.message_id, tier=tier, policy=policy)
    return "replayed"


def purge(*, before: dt.datetime) -> int:
    """Delete dead-letter entries created before `before`; the audit record stays."""
    with session_scope() as session:
        result = session.execute(sa.delete(DeadLetter).where(col(DeadLetter.created_at) < before))
        return int(result.rowcount)  # type: ignore[attr-defined]
