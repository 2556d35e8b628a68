"""Accepting a message: one row and its `received` event, or the first one's id again.

A new message also makes or touches its conversation (SPEC 11) in the same transaction:
it becomes the conversation's latest message, and it waits `coalesce_s` (its
`hold_until`) for the rest of a burst before it is classified."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from app.audit import Actor, record
from app.audit.record import forget_chain_heads
from app.conversations import touch_on_intake
from app.db.models import Message, utcnow
from app.observability import tracing
from app.observability.sentry import current_trace_id
from app.pipeline.schemas import MessageIn
from app.policy import get_policy


def _existing(session: Session, channel: str, external_id: str) -> Message | None:
    return session.exec(
        select(Message).where(Message.channel == channel, Message.external_id == external_id)
    ).first()


def accept_message(
    *, session: Session, message_in: MessageIn, actor: Actor
) -> tuple[Message, bool]:
    """Store a new message, or return the earlier one with `duplicate=True`.

    Safe under concurrent duplicates: the unique `(channel, external_id)` decides.
    """
    earlier = _existing(session, message_in.channel, message_in.external_id)
    if earlier is None:
        message = Message(
            external_id=message_in.external_id,
            channel=message_in.channel,
            contact_id=message_in.contact.id,
            contact_name=message_in.contact.name,
            contact_timezone=message_in.contact.timezone,
            contact_locale=message_in.contact.locale,
            conversation_id=message_in.conversation_id,
            text=message_in.text,
            extra=message_in.metadata,
            received_at=message_in.received_at,
        )
        # One id joins the audit trail, the logs and Sentry when Sentry is on (with trace
        # export on, the exported trace's: set below, once the conversation is known).
        trace_id = current_trace_id()
        if trace_id:
            message.trace_id = trace_id[:32]
        now = utcnow()
        coalesce_s = get_policy().conversations.coalesce_s
        if coalesce_s > 0:
            message.hold_until = now + dt.timedelta(seconds=coalesce_s)
        try:
            with session.begin_nested():
                message.conversation_ref = touch_on_intake(
                    session,
                    channel=message.channel,
                    conversation_id=message.conversation_id,
                    contact_id=message.contact_id,
                    message_id=message.id,
                    written_at=min(message.received_at or now, now),
                )
                exported = tracing.message_trace_id(
                    channel=message.channel,
                    contact_id=message.contact_id,
                    conversation=message.conversation_ref,
                )
                if exported:
                    message.trace_id = exported
                session.add(message)
                session.flush()
                record(
                    session,
                    message_id=message.id,
                    action="received",
                    actor=actor,
                    step="ingest",
                    trace_id=message.trace_id,
                    detail={"channel": message.channel, "chars": len(message.text)},
                )
            return message, False
        except sa.exc.IntegrityError:
            forget_chain_heads(session)
            session.expunge_all()
            earlier = _existing(session, message_in.channel, message_in.external_id)
            if earlier is None:
                raise
    record(
        session,
        message_id=earlier.id,
        action="duplicate",
        actor=actor,
        trace_id=earlier.trace_id,
        detail={"channel": earlier.channel},
    )
    return earlier, True
