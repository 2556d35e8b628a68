"""Recording an outcome: a keyword-only function used by the API.

One transaction holds the outcome row and its `outcome` audit event on the conversation's
latest message. The unique `external_id` decides between concurrent repeats; a clash on
the audit chain (another writer appended to the same message meanwhile) is tried again.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit import Actor, record
from app.audit.record import forget_chain_heads
from app.db.models import Conversation, Message, Outcome
from app.outcomes.errors import OutcomeTargetNotFound, UnknownOutcomeKind
from app.outcomes.schemas import OutcomeIn
from app.policy import Policy

CONTACT_KEY_PREFIX = "contact:"
# Tries at appending the audit event while other writers extend the same message's chain.
CHAIN_ATTEMPTS = 5


def _existing(session: Session, external_id: str) -> Outcome | None:
    return session.exec(select(Outcome).where(Outcome.external_id == external_id)).first()


def _conversation(session: Session, *, channel: str, conversation_id: str) -> Conversation:
    """The conversation keyed by the client's id, else the contact's `contact:<id>` one."""
    exact, by_contact = conversation_id, CONTACT_KEY_PREFIX + conversation_id
    found = {
        c.conversation_key: c
        for c in session.exec(
            select(Conversation).where(
                Conversation.channel == channel,
                col(Conversation.conversation_key).in_([exact, by_contact]),
            )
        ).all()
    }
    conversation = found.get(exact) or found.get(by_contact)
    if conversation is None:
        raise OutcomeTargetNotFound(f"no conversation {conversation_id!r} on {channel}")
    return conversation


def _target(session: Session, outcome_in: OutcomeIn) -> tuple[Conversation | None, str]:
    """The outcome's conversation (None for a message that has none) and the id of the
    message whose audit chain gets the event: the conversation's latest message.

    Raises:
        OutcomeTargetNotFound: no such conversation, or no such message on the channel.
    """
    if outcome_in.conversation_id is not None:
        named = _conversation(
            session, channel=outcome_in.channel, conversation_id=outcome_in.conversation_id
        )
        return named, named.latest_message_id
    assert outcome_in.message_id is not None
    message = session.get(Message, outcome_in.message_id)
    if message is None or message.channel != outcome_in.channel:
        raise OutcomeTargetNotFound(f"no message {outcome_in.message_id!r} on {outcome_in.channel}")
    conversation = (
        session.get(Conversation, message.conversation_ref) if message.conversation_ref else None
    )
    if conversation is None:
        return None, message.id
    return conversation, conversation.latest_message_id


def record_outcome(
    *, session: Session, outcome_in: OutcomeIn, policy: Policy, actor: Actor
) -> tuple[Outcome, bool]:
    """Store a new outcome with its `outcome` audit event, or return the earlier one with
    the same `external_id` and `duplicate=True`, adding nothing.

    Raises:
        UnknownOutcomeKind: the kind is not in the policy's `[outcomes] kinds`.
        OutcomeTargetNotFound: no conversation or message matches.
    """
    kinds = tuple(policy.outcomes.kinds)
    if outcome_in.kind not in kinds:
        raise UnknownOutcomeKind(outcome_in.kind, kinds=kinds)
    earlier = _existing(session, outcome_in.external_id)
    if earlier is not None:
        return earlier, True
    conversation, latest_id = _target(session, outcome_in)
    conversation_ref = conversation.id if conversation is not None else None
    latest = session.get(Message, latest_id)
    trace_id = latest.trace_id if latest is not None else None
    attempt = 0
    while True:
        attempt += 1
        outcome = Outcome(
            external_id=outcome_in.external_id,
            channel=outcome_in.channel,
            conversation_ref=conversation_ref,
            message_id=outcome_in.message_id,
            kind=outcome_in.kind,
            value=outcome_in.amount,
            currency=outcome_in.currency,
            occurred_at=outcome_in.occurred_at,
        )
        try:
            with session.begin_nested():
                session.add(outcome)
                session.flush()
                record(
                    session,
                    message_id=latest_id,
                    action="outcome",
                    actor=actor,
                    trace_id=trace_id,
                    detail={
                        "outcome_id": outcome.id,
                        "kind": outcome.kind,
                        "value": None if outcome.value is None else str(outcome.value),
                        "currency": outcome.currency,
                    },
                )
            return outcome, False
        except sa.exc.IntegrityError:
            # The savepoint's rollback already dropped the new row from the session.
            forget_chain_heads(session)
            earlier = _existing(session, outcome_in.external_id)
            if earlier is not None:
                return earlier, True
            if attempt >= CHAIN_ATTEMPTS:
                raise
