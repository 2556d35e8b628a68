"""The dead-letter queue: messages Keel gave up on, with a reason code, the step,
the attempts and the last error, kept in the database so an operator can replay them
(`replay.py`) or purge old entries; the audit record stays either way."""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Session

from app.audit import Actor, record
from app.db.models import DeadLetter, Message, MessageState
from app.lifecycle import move


class Reason(StrEnum):
    invalid_input = "invalid_input"
    max_attempts = "max_attempts"
    delivery_rejected = "delivery_rejected"
    park_expired = "park_expired"
    poison = "poison"
    provider_rejected = "provider_rejected"
    config_error = "config_error"


def dead_letter(
    session: Session,
    *,
    message: Message,
    reason: Reason,
    step: str | None,
    error: str | None,
    actor: Actor = "worker",
) -> DeadLetter | None:
    """Move a message to `dead` and record why, in the caller's transaction; None (and
    nothing written) when the message moved on since it was read."""
    if not move(session, message, to=MessageState.dead, reason=str(reason)):
        return None
    entry = DeadLetter(
        message_id=message.id,
        reason=reason,
        step=step,
        attempts=message.step_attempts,
        last_error=(error or "")[:1000] or None,
    )
    session.add(entry)
    record(
        session,
        message_id=message.id,
        action="dead_lettered",
        actor=actor,
        step=step,
        trace_id=message.trace_id,
        detail={"reason": str(reason), "attempts": message.step_attempts, "error": error},
    )
    return entry
