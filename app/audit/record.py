"""Writing and reading audit events."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit.chain import event_hash, to_json_safe
from app.db.models import AuditEvent, utcnow

Actor = Literal["api", "worker", "beat", "cli", "human"]


def record(
    session: Session,
    *,
    message_id: str | None,
    action: str,
    actor: Actor,
    step: str | None = None,
    trace_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the caller's transaction, chained to the message's last one."""
    prev_hash: str | None = None
    seq = 1
    if message_id is not None:
        last = session.exec(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.message_id == message_id)
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        ).first()
        if last is not None:
            seq, prev_hash = last[0] + 1, last[1]
    clean = to_json_safe(detail or {})
    at = utcnow()
    event = AuditEvent(
        message_id=message_id,
        seq=seq,
        at=at,
        trace_id=trace_id,
        actor=actor,
        action=action,
        step=step,
        detail=clean,
        prev_hash=prev_hash,
        hash=event_hash(
            message_id=message_id,
            seq=seq,
            at=at,
            trace_id=trace_id,
            actor=actor,
            action=action,
            step=step,
            detail=clean,
            prev_hash=prev_hash,
        ),
    )
    session.add(event)
    session.flush()
    return event


def timeline(session: Session, message_id: str) -> list[AuditEvent]:
    """Every event of one message, oldest first."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.message_id == message_id)
            .order_by(col(AuditEvent.seq))
        ).all()
    )


def count_by_action(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(AuditEvent.action, sa.func.count()).group_by(AuditEvent.action)
    ).all()
    return {action: int(n) for action, n in rows}
