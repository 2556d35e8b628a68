"""A conversation's turns: what the customer wrote and what was sent back, oldest first.

Owns the context a prompt gets (SPEC 11): the unanswered turn (the carrier and every
message withdrawn in its favour, in the order they came) and the earlier turns before
it, at most `history_turns` of them and `history_chars` of text, newest kept. A turn the
injection screen flags goes into no prompt; its place says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from app.db import direct
from app.db.models import Message, MessageState
from app.guardrails.injection import screen
from app.policy import Policy
from app.prompts import Turn

MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
WITHHELD = "[withheld: this turn tried to give instructions]"
# How many of a conversation's latest messages are read for one prompt, beyond the
# turns the policy keeps (a burst's fragments are one turn).
READ_MARGIN = 20


@dataclass(frozen=True)
class Entry:
    """One message of a conversation, as turns are made of it."""

    id: str
    text: str
    state: str
    reply_text: str | None
    reply_provider: str | None
    answered_by: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class Context:
    """The current turn's text and the turns before it."""

    text: str
    history: tuple[Turn, ...]


_READ = (
    sa.select(
        MESSAGES.c.id,
        MESSAGES.c.text,
        MESSAGES.c.state,
        MESSAGES.c.reply_text,
        MESSAGES.c.reply_provider,
        MESSAGES.c.answered_by,
        MESSAGES.c.created_at,
    )
    .where(MESSAGES.c.conversation_ref == sa.bindparam("c"))
    .order_by(MESSAGES.c.created_at.desc(), MESSAGES.c.id.desc())
    .limit(sa.bindparam("n"))
)


def read_entries(conversation_ref: str, *, limit: int) -> list[Entry]:
    """The conversation's latest `limit` messages, oldest first."""
    rows = direct.execute(_READ, {"c": conversation_ref, "n": limit}).rows
    return [Entry(**row) for row in reversed(rows)]


def reply_turn(entry: Entry) -> Turn | None:
    """What was sent for a message, if anything."""
    if entry.state != MessageState.sent or not entry.reply_text:
        return None
    return Turn("human" if entry.reply_provider == "human" else "keel", entry.reply_text)


def build_context(entries: list[Entry], *, carrier: Message, policy: Policy) -> Context:
    """The carrier's unanswered turn and the history before it, within the policy's bounds."""
    turn_ids = {carrier.id} | {e.id for e in entries if e.answered_by == carrier.id}
    current = [e.text for e in entries if e.id in turn_ids and e.id != carrier.id]
    current.append(carrier.text)
    earlier: list[Turn] = []
    for entry in entries:
        if entry.id in turn_ids or entry.created_at > carrier.created_at:
            continue
        earlier.append(Turn("customer", entry.text))
        reply = reply_turn(entry)
        if reply is not None:
            earlier.append(reply)
    return Context(text="\n".join(current), history=bounded(earlier, policy=policy))


def bounded(turns: list[Turn], *, policy: Policy) -> tuple[Turn, ...]:
    """The newest turns that fit `history_turns` and `history_chars`, oldest first; a
    turn the injection screen flags is replaced by a note."""
    limits = policy.conversations
    kept: list[Turn] = []
    chars = 0
    for turn in reversed(turns[-limits.history_turns :] if limits.history_turns else []):
        text = WITHHELD if turn.role == "customer" and screen(turn.text) else turn.text
        if chars + len(text) > limits.history_chars:
            break
        chars += len(text)
        kept.append(Turn(turn.role, text))
    return tuple(reversed(kept))
