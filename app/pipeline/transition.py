"""Committing a step's outcome: new state, audit events and extra rows in one transaction,
guarded by the message's version so two workers can never both move it on."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from app.audit import Actor, event_row, write_rows
from app.db.models import Message, utcnow
from app.providers.base import Attempt

_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


class StaleMessage(Exception):
    """Raised when another worker moved the message on first; this run's work is dropped."""


@dataclass
class Change:
    """What a step decided: column updates, audit events, rows to add, the next step."""

    next_step: str | None
    updates: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    rows: list[SQLModel] = field(default_factory=list)
    statements: list[sa.Executable] = field(default_factory=list)  # e.g. a delivery's update

    @property
    def cost_usd(self) -> Decimal:
        return sum((a.cost_usd for a in self.attempts), Decimal(0))


def audit_attempts(
    session: Session, *, message: Message, step: str, attempts: list[Attempt], actor: Actor
) -> None:
    """Write the events of `attempt_rows`."""
    rows = attempt_rows(session, message=message, step=step, attempts=attempts, actor=actor)
    write_rows(session, rows)


def attempt_rows(
    session: Session, *, message: Message, step: str, attempts: list[Attempt], actor: Actor
) -> list[dict[str, Any]]:
    """One `model_call` event per attempt that called a model, and a `failover` event each
    time a failed or skipped model handed the call to one that was then called."""
    rows: list[dict[str, Any]] = []

    def add(action: str, detail: dict[str, Any]) -> None:
        rows.append(
            event_row(
                session,
                message_id=message.id,
                action=action,
                actor=actor,
                step=step,
                trace_id=message.trace_id,
                detail=detail,
            )
        )

    for i, attempt in enumerate(attempts):
        if attempt.status == "over_budget":
            model = f"{attempt.provider}:{attempt.model}"
            add("budget", {"tier": attempt.tier, "model": model} | attempt.extra)
        elif attempt.status != "breaker_open":  # skipped, not called: no model_call
            add("model_call", attempt.audit_detail())
        nxt = attempts[i + 1] if i + 1 < len(attempts) else None
        if attempt.status != "ok" and nxt is not None and nxt.status != "breaker_open":
            add(
                "failover",
                {
                    "from": f"{attempt.provider}:{attempt.model}",
                    "to": f"{nxt.provider}:{nxt.model}",
                    "reason": attempt.status,
                    "tier": attempt.tier,
                    "to_tier": nxt.tier,
                },
            )
    return rows


def commit_change(
    session: Session, *, message: Message, step: str, change: Change, actor: Actor = "worker"
) -> None:
    """Apply `change` if the message is still at `message.version`.

    Raises:
        StaleMessage: someone else committed first.
    """
    values: dict[str, Any] = {
        **change.updates,
        "next_step": change.next_step,
        "step_attempts": 0,
        "version": message.version + 1,
        "updated_at": utcnow(),
    }
    if change.attempts:
        values["cost_usd"] = _MESSAGES.c.cost_usd + change.cost_usd
    result = session.execute(
        sa.update(_MESSAGES)
        .where(_MESSAGES.c.id == message.id, _MESSAGES.c.version == message.version)
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleMessage(message.id)
    rows = attempt_rows(session, message=message, step=step, attempts=change.attempts, actor=actor)
    for action, detail in change.events:
        rows.append(
            event_row(
                session,
                message_id=message.id,
                action=action,
                actor=actor,
                step=step,
                trace_id=message.trace_id,
                detail=detail,
            )
        )
    write_rows(session, rows)
    for statement in change.statements:
        session.execute(statement)
    if change.rows:
        session.add_all(change.rows)  # new rows, e.g. a review
        session.flush()
