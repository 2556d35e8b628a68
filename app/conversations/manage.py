"""Reading a conversation and acting on it from outside (the API, the CLI, a review):
its turns and status, handing it to a person and back, opting a contact back in. Each
action is audited on the conversation's latest message."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel
from sqlmodel import Session, col, select

from app.audit import Actor, record
from app.conversations.store import CONTACT_PREFIX, find_conversation, set_handoff, set_opted_out
from app.db.models import Contact, Conversation, Message, MessageState, utcnow
from app.errors import KeelError
from app.policy import Policy

TURNS_SHOWN = 200
Status = Literal["active", "handoff", "opted_out"]


class ConversationNotFound(KeelError):
    """Raised when no conversation has that channel and id."""


class TurnPublic(BaseModel):
    message_id: str
    role: Literal["customer", "keel", "human"]
    text: str
    at: dt.datetime
    state: str


class ConversationPublic(BaseModel):
    """SPEC 11: `GET /v1/conversations/{channel}/{conversation_id}`."""

    channel: str
    conversation_id: str
    contact_id: str
    status: Status
    last_customer_at: dt.datetime
    handoff_until: dt.datetime | None
    turns: list[TurnPublic]


def turns_of(
    session: Session, conversation_ref: str, *, limit: int = TURNS_SHOWN
) -> list[TurnPublic]:
    """Every customer message and every reply sent, oldest first (the latest `limit`)."""
    messages = session.exec(
        select(Message)
        .where(Message.conversation_ref == conversation_ref)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(limit)
    ).all()
    turns: list[TurnPublic] = []
    for message in reversed(messages):
        at = message.received_at or message.created_at
        turns.append(
            TurnPublic(
                message_id=message.id,
                role="customer",
                text=message.text,
                at=at,
                state=message.state,
            )
        )
        if message.state == MessageState.sent and message.reply_text:
            role: Literal["keel", "human"] = (
                "human" if message.reply_provider == "human" else "keel"
            )
            turns.append(
                TurnPublic(
                    message_id=message.id,
                    role=role,
                    text=message.reply_text,
                    at=message.updated_at,
                    state="sent",
                )
            )
    return turns


def status_of(session: Session, conversation: Conversation, *, now: dt.datetime) -> Status:
    contact = session.get(Contact, (conversation.channel, conversation.contact_id))
    if contact is not None and contact.opted_out:
        return "opted_out"
    if conversation.handoff_until is not None and conversation.handoff_until > now:
        return "handoff"
    return "active"


def public(session: Session, conversation: Conversation) -> ConversationPublic:
    key = conversation.conversation_key
    return ConversationPublic(
        channel=conversation.channel,
        conversation_id=key.removeprefix(CONTACT_PREFIX),
        contact_id=conversation.contact_id,
        status=status_of(session, conversation, now=utcnow()),
        last_customer_at=conversation.last_customer_at,
        handoff_until=conversation.handoff_until,
        turns=turns_of(session, conversation.id),
    )


def get_conversation(*, session: Session, channel: str, conversation_id: str) -> ConversationPublic:
    """Raises:
    ConversationNotFound: no such conversation."""
    return public(session, _found(session, channel, conversation_id))


def _found(session: Session, channel: str, conversation_id: str) -> Conversation:
    conversation = find_conversation(session, channel=channel, conversation_id=conversation_id)
    if conversation is None:
        raise ConversationNotFound(f"no conversation {conversation_id} on {channel}")
    return conversation


def _audit(
    session: Session,
    conversation: Conversation,
    action: str,
    actor: Actor,
    detail: dict[str, object],
) -> None:
    latest = session.get(Message, conversation.latest_message_id)
    if latest is not None:
        record(
            session,
            message_id=latest.id,
            action=action,
            actor=actor,
            step="conversation",
            trace_id=latest.trace_id,
            detail=detail,
        )


def hand_off(
    *, session: Session, conversation: Conversation, policy: Policy, actor: Actor, why: str
) -> dt.datetime:
    """A person takes the conversation over for `handoff_ttl_s` from now (a review action
    renews it); returns until when."""
    until = utcnow() + dt.timedelta(seconds=policy.conversations.handoff_ttl_s)
    set_handoff(session, conversation.id, until=until)
    _audit(session, conversation, "handoff", actor, {"until": until.isoformat(), "why": why})
    return until


def hand_off_by_id(
    *, session: Session, channel: str, conversation_id: str, policy: Policy, actor: Actor
) -> ConversationPublic:
    """Raises:
    ConversationNotFound: no such conversation."""
    conversation = _found(session, channel, conversation_id)
    hand_off(
        session=session, conversation=conversation, policy=policy, actor=actor, why="requested"
    )
    session.refresh(conversation)
    return public(session, conversation)


def release(
    *, session: Session, channel: str, conversation_id: str, actor: Actor
) -> ConversationPublic:
    """Keel answers on its own again.

    Raises:
        ConversationNotFound: no such conversation.
    """
    conversation = _found(session, channel, conversation_id)
    set_handoff(session, conversation.id, until=None)
    _audit(session, conversation, "released", actor, {})
    session.refresh(conversation)
    return public(session, conversation)


def opt_in(*, session: Session, channel: str, contact_id: str, actor: Actor) -> bool:
    """The contact may receive replies again on `channel`; False when Keel never saw it."""
    seen = session.exec(
        select(Message.id)
        .where(Message.channel == channel, Message.contact_id == contact_id)
        .limit(1)
    ).first()
    if seen is None and session.get(Contact, (channel, contact_id)) is None:
        return False
    set_opted_out(session, channel=channel, contact_id=contact_id, opted_out=False)
    latest = session.exec(
        select(Message)
        .where(Message.channel == channel, Message.contact_id == contact_id)
        .order_by(col(Message.created_at).desc())
        .limit(1)
    ).first()
    if latest is not None:
        record(
            session,
            message_id=latest.id,
            action="opted_in",
            actor=actor,
            step="conversation",
            trace_id=latest.trace_id,
            detail={"channel": channel},
        )
    return True
