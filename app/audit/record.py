"""Writing and reading audit events."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit.chain import event_hash, to_json_safe
from app.db.models import AuditEvent, utcnow

Actor = Literal["api", "worker", "beat", "cli", "human"]
CHAIN_HEADS = "keel.audit.chain_heads"
_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]


def chained_row(
    head: tuple[int, str] | None,
    *,
    message_id: str | None,
    action: str,
    actor: Actor,
    step: str | None = None,
    trace_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event row that follows `head` (the seq and hash of the chain's last event,
    None for a first event or one without a message). Pure: reads and writes nothing."""
    seq, prev_hash = (head[0] + 1, head[1]) if head is not None else (1, None)
    clean = to_json_safe(detail or {})
    at = utcnow()
    digest = event_hash(
        message_id=message_id,
        seq=seq,
        at=at,
        trace_id=trace_id,
        actor=actor,
        action=action,
        step=step,
        detail=clean,
        prev_hash=prev_hash,
    )
    return {
        "message_id": message_id,
        "seq": seq,
        "at": at,
        "trace_id": trace_id,
        "actor": actor,
        "action": action,
        "step": step,
        "detail": clean,
        "prev_hash": prev_hash,
        "hash": digest,
    }


def event_row(
    session: Session,
    *,
    message_id: str | None,
    action: str,
    actor: Actor,
    step: str | None = None,
    trace_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One event as a row, chained to the message's last one; nothing is written yet.

    The chain's head is read once per transaction and message, then kept in the
    session, so a step that writes several events pays for one query.
    """
    head: tuple[int, str] | None = None
    heads: dict[str, tuple[int, str]] = session.info.setdefault(CHAIN_HEADS, {})
    if message_id is not None:
        head = heads.get(message_id)
        if head is None:
            last = session.execute(
                sa.select(_EVENTS.c.seq, _EVENTS.c.hash)
                .where(_EVENTS.c.message_id == message_id)
                .order_by(_EVENTS.c.seq.desc())
                .limit(1)
            ).first()
            head = None if last is None else (last[0], last[1])
    row = chained_row(
        head,
        message_id=message_id,
        action=action,
        actor=actor,
        step=step,
        trace_id=trace_id,
        detail=detail,
    )
    if message_id is not None:
        heads[message_id] = (row["seq"], row["hash"])
    return row


# With RETURNING, SQLAlchemy sends a batch of rows as one multi-row INSERT
# ("insertmanyvalues") from one cached compiled statement, whatever the row count.
_INSERT = sa.insert(_EVENTS).returning(_EVENTS.c.id)


def write_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert event rows in the caller's transaction: one statement for the lot (Core:
    the ORM's unit of work costs more than the rows themselves)."""
    if rows:
        session.execute(_INSERT, rows)


def head_columns(message_id: Any) -> tuple[sa.Label[int], sa.Label[str]]:
    """The seq and hash of a message's last event, as columns for the caller's query
    (so a step reads its chain head with the message, in one round trip)."""

    def last(column: sa.Column[Any]) -> Any:
        return (
            sa.select(column)
            .where(_EVENTS.c.message_id == message_id)
            .order_by(_EVENTS.c.seq.desc())
            .limit(1)
            .scalar_subquery()
        )

    return last(_EVENTS.c.seq).label("audit_seq"), last(_EVENTS.c.hash).label("audit_hash")


def seed_chain_head(session: Session, message_id: str, head: tuple[int, str]) -> None:
    """Start this transaction's chain for `message_id` at `head`, read earlier. If an
    event was appended since, the insert breaks the unique (message_id, seq) and the
    transaction fails: the caller retries without a seed."""
    session.info.setdefault(CHAIN_HEADS, {})[message_id] = head


def record(
    session: Session,
    *,
    message_id: str | None,
    action: str,
    actor: Actor,
    step: str | None = None,
    trace_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event to the caller's transaction, chained to the message's last one."""
    row = event_row(
        session,
        message_id=message_id,
        action=action,
        actor=actor,
        step=step,
        trace_id=trace_id,
        detail=detail,
    )
    write_rows(session, [row])


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
