"""Claiming a conversation to deliver a reply (SPEC 11, order): one message at a time
holds the conversation's lease from its send until it is done, and only the
conversation's latest customer message may take it (a reply a person approved may
too), so replies leave in message order and a newer message withdraws an unsent reply.

The lease needs no clock: it is free once its holder is no longer waiting to be
delivered (sent, dead, escalated, withdrawn). A holder whose worker died keeps it
until the reconciler runs the delivery again, with the same text and Idempotency-Key;
a conversation is never stuck longer than that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from app.conversations.store import CONVERSATIONS, view
from app.conversations.window import reply_window_open
from app.db import direct
from app.db.models import Message, MessageState, Review, utcnow
from app.lifecycle import Step
from app.policy import Policy

MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
REVIEWS: sa.Table = Review.__table__  # type: ignore[attr-defined]
OPT_OUT_CONFIRMATION = "opt_out_confirmation"
# Only informative: when the holder started (the lease is freed by its holder's state).
LEASE_NOTE_S = 120


class Claim(StrEnum):
    ok = "ok"
    busy = "busy"  # an earlier reply of the conversation is being delivered
    superseded = "superseded"  # a newer customer message answers the turn
    opted_out = "opted_out"
    window_closed = "reply_window_closed"


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    latest_message_id: str | None = None


_holder = MESSAGES.alias("holder")
_HOLDER_SENDING = (
    sa.exists()
    .where(
        _holder.c.id == CONVERSATIONS.c.lease_message_id,
        direct.one_of(_holder.c.state, [MessageState.drafted, MessageState.scheduled]),
        _holder.c.next_step == Step.deliver.value,
    )
    .correlate(CONVERSATIONS)
)
_TAKE = (
    sa.update(CONVERSATIONS)
    .where(
        CONVERSATIONS.c.id == sa.bindparam("c"),
        sa.or_(
            CONVERSATIONS.c.latest_message_id == sa.bindparam("m"),
            # its delivery began (a rerun after a dead worker): it finishes, same text
            CONVERSATIONS.c.lease_message_id == sa.bindparam("m"),
            sa.bindparam("any_turn", type_=sa.Boolean),
        ),
        sa.or_(
            CONVERSATIONS.c.lease_message_id.is_(None),
            CONVERSATIONS.c.lease_message_id == sa.bindparam("m"),
            ~_HOLDER_SENDING,
        ),
    )
    .values(
        lease_message_id=sa.bindparam("m"),
        lease_until=sa.bindparam("until"),
        updated_at=sa.bindparam("now"),
    )
)


_APPROVED = sa.select(REVIEWS.c.id).where(
    REVIEWS.c.message_id == sa.bindparam("m"), REVIEWS.c.status == "approved"
)


def approved_by_a_person(message_id: str) -> bool:
    return direct.execute(_APPROVED, {"m": message_id}).first() is not None


def claim_delivery(message: Message, *, policy: Policy, now: dt.datetime) -> ClaimResult:
    """May this message's reply go now? Takes the conversation's lease when it may."""
    if message.conversation_ref is None:
        return ClaimResult(Claim.ok)
    conversation = view(message.conversation_ref)
    if conversation is None:
        return ClaimResult(Claim.ok)
    if conversation.contact_opted_out and message.reason != OPT_OUT_CONFIRMATION:
        return ClaimResult(Claim.opted_out)
    hours = policy.reply_window_h(message.channel)
    if not reply_window_open(last_customer_at=conversation.last_customer_at, hours=hours, at=now):
        return ClaimResult(Claim.window_closed)
    latest = conversation.latest_message_id
    human = latest != message.id and approved_by_a_person(message.id)
    taken = direct.execute(
        _TAKE,
        {
            "c": conversation.id,
            "m": message.id,
            "any_turn": human,
            "until": now + dt.timedelta(seconds=LEASE_NOTE_S),
            "now": utcnow(),
        },
    ).rowcount
    if taken == 1:
        return ClaimResult(Claim.ok)
    if latest != message.id and not human and conversation.lease_message_id != message.id:
        return ClaimResult(Claim.superseded, latest)
    return ClaimResult(Claim.busy)


_RELEASE = (
    sa.update(CONVERSATIONS)
    .where(
        CONVERSATIONS.c.id == sa.bindparam("release_conversation"),
        CONVERSATIONS.c.lease_message_id == sa.bindparam("release_holder"),
    )
    .values(lease_message_id=None, lease_until=None)
)


def release_statement(message: Message) -> tuple[sa.Update, dict[str, Any]] | None:
    """Frees the lease in the commit that marks the reply sent: the statement and its
    values."""
    if message.conversation_ref is None:
        return None
    return _RELEASE, {
        "release_conversation": message.conversation_ref,
        "release_holder": message.id,
    }
