"""Writing and reading audit events."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit.chain import event_hash, to_json_safe
from app.db.models import AuditEvent, utcnow

Actor = Literal["api", "worker", "beat", "cli", "human"]
CHAIN_HEADS = "keel.audit.chain_heads"


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
    """Append one event to the caller's transaction, chained to the message's last one.

    The chain's head is read once per transaction and message, then kept in the
    session, so a step that writes several events pays for one query.
    """
    prev_hash: str | None = None
    seq = 1
    heads: dict[str, tuple[int, str]] = session.info.setdefault(CHAIN_HEADS, {})
    if message_id is not None:
        last = heads.get(message_id)
        if last is None:
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
    if message_id is not None:
        heads[message_id] = (seq, event.hash)
    return event


def forget_chain_heads(session: Session) -> None:
    """Drop cached chain heads (after a rollback to a savepoint)."""
    session.info.pop(CHAIN_HEADS, None)


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
