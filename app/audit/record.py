"""Writing and reading audit events."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit.chain import audit_key, event_hash, scheme_for, to_json_safe
from app.db.models import AuditEvent, Message, utcnow
from app.observability import events

Actor = Literal["api", "worker", "beat", "cli", "human"]
CHAIN_HEADS = "keel.audit.chain_heads"
# Rows inserted in the session's transaction, handed to `app.observability.events` when it
# commits (metrics and span events count only what was committed).
PENDING = "keel.audit.pending"
_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


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
    None for a first event or one without a message), hashed with KEEL_AUDIT_KEY if set.
    Pure but for the settings: reads and writes nothing."""
    seq, prev_hash = (head[0] + 1, head[1]) if head is not None else (1, None)
    clean = to_json_safe(detail or {})
    at = utcnow()
    key = audit_key()
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
        key=key,
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
        "hash_scheme": scheme_for(key),
    }


def _head_query() -> sa.Select[tuple[int, str]]:
    """The later of the message's head and its last event: a chain whose tail was
    deleted goes on after its head (the hole stays visible), and one whose head lags
    (an event written by an older release) goes on after its last event."""
    message_id: sa.BindParameter[str] = sa.bindparam("m", type_=sa.String())
    last = (
        sa.select(_EVENTS.c.seq, _EVENTS.c.hash)
        .where(_EVENTS.c.message_id == message_id)
        .order_by(_EVENTS.c.seq.desc())
        .limit(1)
        .subquery()
    )
    head = sa.select(
        _MESSAGES.c.audit_seq.label("seq"), _MESSAGES.c.audit_hash.label("hash")
    ).where(_MESSAGES.c.id == message_id, _MESSAGES.c.audit_seq.is_not(None))
    both = sa.union_all(head, sa.select(last.c.seq, last.c.hash)).subquery()
    return sa.select(both.c.seq, both.c.hash).order_by(both.c.seq.desc()).limit(1)


_HEAD = _head_query()


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

    The chain's head is read once per transaction and message (one query: the
    message's head or its last event, whichever is later), then kept in the session,
    so a step that writes several events pays for one query.
    """
    head: tuple[int, str] | None = None
    heads: dict[str, tuple[int, str]] = session.info.setdefault(CHAIN_HEADS, {})
    if message_id is not None:
        head = heads.get(message_id)
        if head is None:
            last = session.execute(_HEAD, {"m": message_id}).first()
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
_SET_HEAD = (
    sa.update(_MESSAGES)
    .where(_MESSAGES.c.id == sa.bindparam("m_id"))
    .values(audit_seq=sa.bindparam("h_seq"), audit_hash=sa.bindparam("h_hash"))
)


def head_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The message columns that make the last of `rows` (one message's) its chain's head;
    empty without rows."""
    if not rows:
        return {}
    return {"audit_seq": rows[-1]["seq"], "audit_hash": rows[-1]["hash"]}


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert event rows in the caller's transaction, one statement for the lot (Core:
    the ORM's unit of work costs more than the rows themselves). The caller sets the
    messages' heads in the same transaction (`head_values`)."""
    if rows:
        session.execute(_INSERT, rows)
        session.info.setdefault(PENDING, []).extend(rows)


@sa.event.listens_for(Session, "after_commit")
def _observe_committed(session: Session) -> None:
    rows = session.info.pop(PENDING, None)
    if rows:
        events.observe(rows)


@sa.event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(PENDING, None)


def write_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert event rows and move each message's chain head to its last one, in the
    caller's transaction."""
    if not rows:
        return
    insert_rows(session, rows)
    heads = {r["message_id"]: r for r in rows if r["message_id"] is not None}
    if heads:
        session.execute(
            _SET_HEAD,
            [{"m_id": m, "h_seq": r["seq"], "h_hash": r["hash"]} for m, r in heads.items()],
        )


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
    """Append one event to the caller's transaction, chained to the message's last one,
    and make it the message's chain head."""
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
