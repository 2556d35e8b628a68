"""What the pipeline asks of a message's conversation, each call one short read or one
transaction of its own: the conversation's state, the context for a prompt, withdrawing
earlier replies in favour of the carrier, and opting a contact out."""

from __future__ import annotations

from app.conversations.store import ConversationView, is_opted_out, set_opted_out, view
from app.conversations.turns import READ_MARGIN, Context, build_context, read_entries
from app.conversations.withdraw import (
    anything_to_withdraw,
    withdraw_earlier,
    withdraw_for_contact,
)
from app.db import session_scope
from app.db.models import Message
from app.policy import Policy


def read_view(message: Message) -> ConversationView | None:
    if message.conversation_ref is None:
        return None
    return view(message.conversation_ref)


def context_for(message: Message, *, policy: Policy) -> Context:
    """The text of the message's unanswered turn and the turns before it."""
    if message.conversation_ref is None:
        return Context(text=message.text, history=())
    limit = policy.conversations.history_turns + READ_MARGIN
    entries = read_entries(message.conversation_ref, limit=limit)
    return build_context(entries, carrier=message, policy=policy)


def take_over_turn(message: Message, conversation: ConversationView) -> list[str]:
    """Withdraw the conversation's earlier unanswered messages in favour of `message`."""
    lease = conversation.lease_message_id
    if not anything_to_withdraw(carrier=message, lease_message_id=lease):
        return []  # no transaction for a turn of one message (most of them)
    with session_scope() as session:
        return withdraw_earlier(session, carrier=message, lease_message_id=lease)


def contact_opted_out(message: Message) -> bool:
    return is_opted_out(channel=message.channel, contact_id=message.contact_id)


def opt_out_contact(message: Message) -> list[str]:
    """The message asked to hear nothing more: opt its contact out on its channel and
    withdraw every unsent reply to them; returns the ids withdrawn."""
    with session_scope() as session:
        set_opted_out(
            session, channel=message.channel, contact_id=message.contact_id, opted_out=True
        )
        return withdraw_for_contact(
            session, channel=message.channel, contact_id=message.contact_id, except_id=message.id
        )
