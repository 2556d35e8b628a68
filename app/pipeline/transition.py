"""Committing a step's outcome: new state, audit events and extra rows in one transaction,
guarded by the message's version so two workers can never both move it on."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from app.audit import Actor, record
from app.db.models import Message, utcnow
from app.providers.base import Attempt


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

    @property
    def cost_usd(self) -> Decimal:
        return sum((a.cost_usd for a in self.attempts), Decimal(0))


def audit_attempts(
    session: Session, *, message: Message, step: str, attempts: list[Attempt], actor: Actor
) -> None:
    """One `model_call` event per attempt that called a model, and a `failover` event each
    time a failed or skipped model handed the call to one that was then called."""
    for i, attempt in enumerate(attempts):
        if attempt.status == "over_budget":
            record(
                session,
                message_id=message.id,
                action="budget",
                actor=actor,
                step=step,
                trace_id=message.trace_id,
                detail={"tier": attempt.tier, "model": f"{attempt.provider}:{attempt.model}"}
                | attempt.extra,
            )
        elif attempt.status != "breaker_open":  # skipped, not called: no model_call
            record(
                session,
                message_id=message.id,
                action="model_call",
                actor=actor,
                step=step,
                trace_id=message.trace_id,
                detail=attempt.audit_detail(),
            )
        nxt = attempts[i + 1] if i + 1 < len(attempts) else None
        if attempt.status != "ok" and nxt is not None and nxt.status != "breaker_open":
            record(
                session,
                message_id=message.id,
                action="failover",
                actor=actor,
                step=step,
                trace_id=message.trace_id,
                detail={
                    "from": f"{attempt.provider}:{attempt.model}",
                    "to": f"{nxt.provider}:{nxt.model}",
                    "reason": attempt.status,
                    "tier": attempt.tier,
                    "to_tier": nxt.tier,
                },
            )


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
        values["cost_usd"] = Message.cost_usd + change.cost_usd
    result = session.execute(
        sa.update(Message)
        .where(Message.id == message.id, Message.version == message.version)  # type: ignore[arg-type]
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleMessage(message.id)
    audit_attempts(session, message=message, step=step, attempts=change.attempts, actor=actor)
    for action, detail in change.events:
        record(
            session,
            message_id=message.id,
            action=action,
            actor=actor,
            step=step,
            trace_id=message.trace_id,
            detail=detail,
        )
    for row in change.rows:
        if getattr(row, "id", None) is None:
            session.add(row)  # new, e.g. a review
        else:
            session.merge(row)  # loaded elsewhere, e.g. the delivery being marked sent
    session.flush()
