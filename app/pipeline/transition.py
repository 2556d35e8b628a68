"""Committing a step's outcome: new state, audit events, the audit chain's new head and
extra rows in one transaction, through the lifecycle's guarded move (version and allowed
transition), so two workers can never both move a message on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, SQLModel

from app.audit import Actor, chained_row, event_row, head_values, insert_rows, write_rows
from app.audit.chain import EVENT_COLUMNS
from app.audit.record import forget_chain_heads
from app.db import direct
from app.db.models import AuditEvent, Message, utcnow
from app.lifecycle import check_transition, guarded_update, move
from app.observability import events
from app.providers.base import Attempt

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]


class StaleMessage(Exception):
    """Raised when another worker moved the message on first; this run's work is dropped."""


@dataclass(frozen=True)
class Extra:
    """An UPDATE a step's commit also makes: a statement built once, with bindparams of
    its own names (they share one statement with the commit's), and this commit's values
    for them. Built once, so the one-statement commit that carries it is built once."""

    statement: sa.Update
    params: dict[str, Any]


@dataclass
class Change:
    """What a step decided: column updates, audit events, rows to add, the next step."""

    next_step: str | None
    updates: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    rows: list[SQLModel] = field(default_factory=list)
    statements: list[Extra] = field(default_factory=list)  # e.g. the delivery row's update
    # Committed, but the next step waits (a burst's quiet period): beat enqueues it.
    waits: bool = False

    @property
    def cost_usd(self) -> Decimal:
        return sum((a.cost_usd for a in self.attempts), Decimal(0))


def attempt_events(attempts: list[Attempt]) -> list[tuple[str, dict[str, Any]]]:
    """One `model_call` event per attempt that called a model, and a `failover` event each
    time a failed or skipped model handed the call to one that was then called."""
    events: list[tuple[str, dict[str, Any]]] = []
    for i, attempt in enumerate(attempts):
        if attempt.status == "over_budget":
            model = f"{attempt.provider}:{attempt.model}"
            events.append(("budget", {"tier": attempt.tier, "model": model} | attempt.extra))
        elif attempt.status != "breaker_open":  # skipped, not called: no model_call
            events.append(("model_call", attempt.audit_detail()))
        nxt = attempts[i + 1] if i + 1 < len(attempts) else None
        if attempt.status != "ok" and nxt is not None and nxt.status != "breaker_open":
            failover = {
                "from": f"{attempt.provider}:{attempt.model}",
                "to": f"{nxt.provider}:{nxt.model}",
                "reason": attempt.status,
                "tier": attempt.tier,
                "to_tier": nxt.tier,
            }
            events.append(("failover", failover))
    return events


def audit_attempts(
    session: Session, *, message: Message, step: str, attempts: list[Attempt], actor: Actor
) -> None:
    """Write the events of `attempt_events` in the caller's transaction."""
    _write_events(session, message, step=step, actor=actor, events=attempt_events(attempts))


def _write_events(
    session: Session,
    message: Message,
    *,
    step: str,
    actor: Actor,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Chain `events` onto the message's audit trail in the caller's transaction."""
    write_rows(session, _event_rows(session, message, step=step, actor=actor, events=events))


def _event_rows(
    session: Session,
    message: Message,
    *,
    step: str,
    actor: Actor,
    events: list[tuple[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """`events` as rows chained onto the message's audit trail; nothing written yet."""
    return [
        event_row(
            session,
            message_id=message.id,
            action=action,
            actor=actor,
            step=step,
            trace_id=message.trace_id,
            detail=detail,
        )
        for action, detail in events
    ]


def _message_values(message: Message, change: Change) -> dict[str, Any]:
    values: dict[str, Any] = {
        **change.updates,
        "next_step": change.next_step,
        "step_attempts": 0,
        "version": message.version + 1,
        "updated_at": utcnow(),
    }
    if change.attempts:
        values["cost_usd"] = _MESSAGES.c.cost_usd + change.cost_usd
    return values


def commit_change(
    session: Session, *, message: Message, step: str, change: Change, actor: Actor = "worker"
) -> None:
    """Apply `change` in the session's transaction if the message is still at
    `message.version`.

    Raises:
        StaleMessage: someone else committed first.
    """
    values = _message_values(message, change)
    values.pop("version")  # move() takes the version up
    to = values.pop("state", None)
    events = [*attempt_events(change.attempts), *change.events]
    rows = _event_rows(session, message, step=step, actor=actor, events=events)
    # the move also makes the last event the chain's head: no statement more
    if not move(session, message, to=to, **values, **head_values(rows)):
        forget_chain_heads(session)  # those rows will not be written
        raise StaleMessage(message.id)
    insert_rows(session, rows)
    for extra in change.statements:
        session.execute(extra.statement, extra.params)
    if change.rows:
        session.add_all(change.rows)  # new rows, e.g. a review
        session.flush()


def fits_one_statement(change: Change, *, dialect: str) -> bool:
    """Whether `commit_at_once` can apply this change: on Postgres, with no new rows
    (its extra UPDATEs run only if the message moved)."""
    return dialect == "postgresql" and not change.rows


def commit_at_once(
    *,
    message: Message,
    step: str,
    change: Change,
    audit_head: tuple[int, str],
    actor: Actor = "worker",
) -> Message:
    """Apply `change` in ONE autocommit statement (one round trip instead of BEGIN,
    UPDATE, INSERT and COMMIT): a data-modifying CTE updates the message if it is still
    at `message.version` (and sets its chain head to the last event) and, only when it
    did, inserts the step's audit events, chained after `audit_head`, and runs the
    change's extra UPDATEs. Postgres runs the statement atomically.

    Returns the message's row as the statement left it (`after_commit`).

    Raises:
        StaleMessage: someone else committed first.
        sqlalchemy.exc.IntegrityError: an event was appended after `audit_head`.
    """
    to = change.updates.get("state")
    check_transition(message.state, to if to is not None else message.state)
    head: tuple[int, str] = audit_head
    rows: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []
    for action, detail in [*attempt_events(change.attempts), *change.events]:
        row = chained_row(
            head,
            message_id=message.id,
            action=action,
            actor=actor,
            step=step,
            trace_id=message.trace_id,
            detail=detail,
        )
        rows.append(row)
        head = (row["seq"], row["hash"])
        sent.append({name: row[name] for name in _EVENT_COLUMNS} | {"at": row["at"].isoformat()})
    values = _message_values(message, change)
    if head != audit_head:  # the message's head moves with its events
        values |= {"audit_seq": head[0], "audit_hash": head[1]}
    written = dict(values)
    cost = values.pop("cost_usd", None)
    params: dict[str, Any] = {f"v_{name}": value for name, value in values.items()}
    params |= {"m_id": message.id, "m_version": message.version}
    params["events"] = json.dumps(sent)
    if cost is not None:
        params["v_cost_usd"] = change.cost_usd
    for extra in change.statements:
        params |= extra.params
    shape = (tuple(sorted(values)), cost is not None, tuple(e.statement for e in change.statements))
    statement = _statements.get(shape)
    if statement is None:
        statement = _statements[shape] = _commit_statement(*shape)
    if direct.execute(statement, params).scalar() != 1:
        raise StaleMessage(message.id)
    events.observe(rows)  # autocommit: the statement above committed them
    return after_commit(message, change, written, head)


_COST_SCALE = Decimal(1).scaleb(-getattr(_MESSAGES.c.cost_usd.type, "scale", 8))  # Numeric(14, 8)
_MESSAGE_COLUMNS = tuple(c.name for c in _MESSAGES.columns)
_JSON_COLUMNS = frozenset(c.name for c in _MESSAGES.columns if isinstance(c.type, sa.JSON))


def after_commit(
    message: Message, change: Change, written: dict[str, Any], head: tuple[int, str]
) -> Message:
    """The message's row as `commit_at_once` left it, built from the values it wrote:
    the version taken up, the cost added (at the column's scale), JSON columns as they
    read back, the chain head."""
    values = dict(written)
    if "cost_usd" in values:
        values["cost_usd"] = (message.cost_usd + change.cost_usd).quantize(_COST_SCALE)
    for name in _JSON_COLUMNS.intersection(values):
        if values[name] is not None:
            values[name] = json.loads(json.dumps(values[name]))
    row = {name: getattr(message, name) for name in _MESSAGE_COLUMNS}
    return Message(**(row | values | {"audit_seq": head[0], "audit_hash": head[1]}))


# Built once per shape of update (its columns, whether it adds a cost, its extra UPDATEs)
# and reused, so `direct` compiles each shape once.
_statements: dict[tuple[tuple[str, ...], bool, tuple[sa.Update, ...]], sa.Select[int]] = {}


def _commit_statement(
    names: tuple[str, ...], add_cost: bool, extras: tuple[sa.Update, ...]
) -> sa.Select[int]:
    values: dict[str, Any] = {
        name: sa.bindparam(f"v_{name}", type_=_MESSAGES.c[name].type) for name in names
    }
    if add_cost:
        cost_type = _MESSAGES.c.cost_usd.type
        values["cost_usd"] = _MESSAGES.c.cost_usd + sa.bindparam("v_cost_usd", type_=cost_type)
    moved = (
        guarded_update()  # the same guard as every move: id and version
        .values(**values)
        .returning(_MESSAGES.c.id)
        .cte("moved")
    )
    logged = sa.insert(_EVENTS).from_select(
        ["message_id", *_EVENT_COLUMNS],
        sa.select(moved.c.id, *_EVENT_VALUES).select_from(moved).join(_RECORDSET, sa.true()),
    )
    ctes = [logged.cte("logged")]
    for i, extra in enumerate(extras):
        ctes.append(extra.where(sa.exists(sa.select(moved.c.id))).cte(f"extra_{i}"))
    return sa.select(sa.func.count()).select_from(moved).add_cte(*ctes)


# The events of `commit_at_once` travel as one JSON array of rows, which Postgres turns
# into rows (`json_to_recordset`): one text parameter to send instead of an array per
# column, which psycopg adapts element by element in Python.
_EVENT_COLUMNS = (*EVENT_COLUMNS, "hash_scheme")
_EVENT_TYPES: dict[str, Any] = {
    "seq": sa.Integer(),
    "at": sa.DateTime(timezone=True),
    "detail": postgresql.JSON(),
}
_RECORDSET = (
    sa.func.json_to_recordset(sa.cast(sa.bindparam("events", type_=sa.Text()), postgresql.JSON))
    .table_valued(*(sa.column(name, _EVENT_TYPES.get(name, sa.Text())) for name in _EVENT_COLUMNS))
    .render_derived(name="e", with_types=True)
)
_EVENT_VALUES = [_RECORDSET.c[name] for name in _EVENT_COLUMNS]
