"""Withdrawing a message's reply (SPEC 11): the message ends `no_reply` with its reason
(`coalesced`, `superseded`, `opted_out`) and the id of the message that answers it, its
pending review (if any) is closed, and the messages it was answering now point at the
one that answers them all."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit import Actor, record
from app.db import direct
from app.db.models import Conversation, Message, MessageState, Review, utcnow
from app.lifecycle import Step, move

REVIEWS: sa.Table = Review.__table__  # type: ignore[attr-defined]
MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
# Past its ingest (input checks and opt-out) and not yet sent or decided.
WITHDRAWABLE = (
    MessageState.received,
    MessageState.classified,
    MessageState.drafted,
    MessageState.scheduled,
    MessageState.parked,
    MessageState.escalated,
)


def withdraw(
    session: Session, message: Message, *, reason: str, answered_by: str | None, actor: Actor
) -> bool:
    """End `message` as `no_reply` with `reason`, in the caller's transaction; False when
    it moved on meanwhile (its own step or another withdrawal got there first)."""
    moved = move(
        session,
        message,
        to=MessageState.no_reply,
        reason=reason,
        answered_by=answered_by,
        next_step=None,
        hold_until=None,
        send_at=None,
    )
    if not moved:
        return False
    record(
        session,
        message_id=message.id,
        action="no_reply",
        actor=actor,
        step=message.next_step,
        trace_id=message.trace_id,
        detail={
            "reason": reason,
            "answered_by": answered_by,
            "had_draft": bool(message.reply_text),
        },
    )
    session.execute(
        sa.update(REVIEWS)
        .where(REVIEWS.c.message_id == message.id, REVIEWS.c.status == "pending")
        .values(status="withdrawn", decided_at=utcnow())
    )
    if answered_by:
        session.execute(
            sa.update(MESSAGES)
            .where(MESSAGES.c.answered_by == message.id)
            .values(answered_by=answered_by)
        )
    return True


def reason_for(message: Message) -> str:
    """`superseded` for a message that had a reply drafted, `coalesced` for one that had
    not got that far."""
    return "superseded" if message.reply_text else "coalesced"


def withdraw_earlier(
    session: Session, *, carrier: Message, lease_message_id: str | None, actor: Actor = "worker"
) -> list[str]:
    """Withdraw every earlier unanswered message of the carrier's conversation in favour
    of the carrier, whose reply answers the whole turn (`_stays` says which stay).
    Returns the ids withdrawn."""
    earlier = session.exec(
        select(Message).where(
            Message.conversation_ref == carrier.conversation_ref,
            Message.id != carrier.id,
            col(Message.created_at) <= carrier.created_at,
            col(Message.state).in_(WITHDRAWABLE),
        )
    ).all()
    withdrawn = []
    for message in earlier:
        fields = (message.id, message.state, message.next_step, message.reply_text)
        if _stays(*fields, lease=lease_message_id):
            continue
        if withdraw(
            session, message, reason=reason_for(message), answered_by=carrier.id, actor=actor
        ):
            withdrawn.append(message.id)
    return withdrawn


_EARLIER = sa.select(
    MESSAGES.c.id, MESSAGES.c.state, MESSAGES.c.next_step, MESSAGES.c.reply_text
).where(
    MESSAGES.c.conversation_ref == sa.bindparam("c"),
    MESSAGES.c.id != sa.bindparam("m"),
    MESSAGES.c.created_at <= sa.bindparam("at", type_=MESSAGES.c.created_at.type),
    direct.one_of(MESSAGES.c.state, [str(s) for s in WITHDRAWABLE]),
)


def anything_to_withdraw(*, carrier: Message, lease_message_id: str | None) -> bool:
    """Whether `withdraw_earlier` would find a message to withdraw: one read of a few
    columns, so a turn of one message (most of them) opens no transaction."""
    rows = direct.execute(
        _EARLIER, {"c": carrier.conversation_ref, "m": carrier.id, "at": carrier.created_at}
    ).rows
    return any(
        not _stays(r["id"], r["state"], r["next_step"], r["reply_text"], lease=lease_message_id)
        for r in rows
    )


def _stays(
    message_id: str, state: str, next_step: str | None, reply_text: str | None, *, lease: str | None
) -> bool:
    """Left alone by a later message's turn: a message whose reply is being sent (it
    holds the conversation's lease), one escalated without a draft (it waits for a
    person on its own matter), one not yet through its input checks (its opt-out must
    still be read)."""
    if state == MessageState.escalated and not reply_text:
        return True
    if state == MessageState.received and next_step == Step.ingest:
        return True
    return message_id == lease and next_step == Step.deliver


def withdraw_for_contact(
    session: Session, *, channel: str, contact_id: str, except_id: str, actor: Actor = "worker"
) -> list[str]:
    """An opt-out: withdraw every unsent reply to the contact on the channel (a reply
    already being sent under its conversation's lease cannot be called back)."""
    pending = session.exec(
        select(Message).where(
            Message.channel == channel,
            Message.contact_id == contact_id,
            Message.id != except_id,
            col(Message.state).in_(WITHDRAWABLE),
        )
    ).all()
    sending = set(
        session.exec(
            select(Conversation.lease_message_id).where(
                Conversation.channel == channel,
                Conversation.contact_id == contact_id,
                col(Conversation.lease_message_id).is_not(None),
            )
        ).all()
    )
    withdrawn = []
    for message in pending:
        if message.state == MessageState.received and message.next_step == Step.ingest:
            continue
        if message.id in sending and message.next_step == Step.deliver:
            continue
        if withdraw(session, message, reason="opted_out", answered_by=None, actor=actor):
            withdrawn.append(message.id)
    return withdrawn
