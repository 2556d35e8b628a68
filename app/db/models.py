"""Tables of the system of record. Redis only ever carries the ids of these rows."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on Postgres and SQLite alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _ts(*, index: bool = False, nullable: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index),
    )


class MessageState(StrEnum):
    received = "received"
    classified = "classified"
    drafted = "drafted"
    scheduled = "scheduled"
    parked = "parked"
    escalated = "escalated"
    sent = "sent"
    no_reply = "no_reply"
    rejected = "rejected"
    dead = "dead"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {MessageState.sent, MessageState.no_reply, MessageState.rejected, MessageState.dead}
)


class Message(SQLModel, table=True):
    """One inbound customer message and where it stands."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("channel", "external_id", name="uq_messages_channel_external_id"),
        sa.Index("ix_messages_state_updated_at", "state", "updated_at"),
    )

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    external_id: str = Field(max_length=200)
    channel: str = Field(max_length=16)
    contact_id: str = Field(max_length=200)
    contact_name: str | None = Field(default=None, max_length=200)
    contact_timezone: str | None = Field(default=None, max_length=64)
    contact_locale: str | None = Field(default=None, max_length=35)
    conversation_id: str | None = Field(default=None, max_length=200)
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    extra: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    received_at: dt.datetime | None = _ts(nullable=True)

    state: str = Field(default=MessageState.received, max_length=16)
    next_step: str | None = Field(default="ingest", max_length=16)
    step_attempts: int = Field(default=0)
    version: int = Field(default=0)
    trace_id: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=32)

    intent: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=8)
    confidence: float | None = None
    tier: str | None = Field(default=None, max_length=16)
    reply_text: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    reply_provider: str | None = Field(default=None, max_length=32)
    reply_model: str | None = Field(default=None, max_length=100)
    escalation_reason: str | None = Field(default=None, max_length=200)
    # Guardrails: how many times the draft was regenerated after a block, the last
    # block's violations, and what the input checks found (language, injection, ...).
    regenerations: int = Field(default=0)
    violations: list[dict[str, Any]] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    input_flags: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    cost_usd: Decimal = Field(
        default=Decimal(0), sa_column=sa.Column(sa.Numeric(14, 8), nullable=False, default=0)
    )

    # Conversations (SPEC 11): the conversation's row, when the burst's quiet period ends,
    # why a message ended no_reply, escalated or dead, and whose reply answered it.
    conversation_ref: str | None = Field(default=None, max_length=36, index=True)
    hold_until: dt.datetime | None = _ts(nullable=True, index=True)
    reason: str | None = Field(default=None, max_length=64)
    answered_by: str | None = Field(default=None, max_length=36, index=True)

    send_at: dt.datetime | None = _ts(nullable=True, index=True)
    parked_tier: str | None = Field(default=None, max_length=16)
    park_reason: str | None = Field(default=None, max_length=200)
    parked_at: dt.datetime | None = _ts(nullable=True)

    # The head of its audit chain (seq and hash of its last event), written in the same
    # commit as every event, so `keel audit verify` sees a chain's deleted tail.
    audit_seq: int | None = None
    audit_hash: str | None = Field(default=None, max_length=64)

    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class AuditEvent(SQLModel, table=True):
    """One action on a message; append-only, chained per message by SHA-256 or, with
    KEEL_AUDIT_KEY, by HMAC-SHA256 (`hash_scheme` says which)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.UniqueConstraint("message_id", "seq", name="uq_audit_events_message_seq"),
        sa.Index("ix_audit_events_at", "at"),
        sa.Index("ix_audit_events_action_at", "action", "at"),
        sa.Index("ix_audit_events_step_at", "step", "at"),
        sa.Index("ix_audit_events_trace_id", "trace_id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )
    message_id: str | None = Field(default=None, max_length=36, index=True)
    seq: int = Field(default=0)
    at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    trace_id: str | None = Field(default=None, max_length=32)
    actor: str = Field(max_length=16)
    action: str = Field(max_length=32)
    step: str | None = Field(default=None, max_length=16)
    detail: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(max_length=64)
    # "sha256", or "hmac-sha256:<key id>" for a hash keyed with KEEL_AUDIT_KEY
    hash_scheme: str = Field(
        default="sha256", max_length=32, sa_column_kwargs={"server_default": "sha256"}
    )


class Delivery(SQLModel, table=True):
    """The one reply of a message: its text is fixed before the first POST."""

    __tablename__ = "deliveries"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=36, unique=True)
    idempotency_key: str = Field(max_length=100, unique=True)
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    channel: str = Field(max_length=16)
    target: str = Field(max_length=16)  # "webhook" or "log"
    tier: str | None = Field(default=None, max_length=16)
    model: str | None = Field(default=None, max_length=100)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    delivered_at: dt.datetime | None = _ts(nullable=True)


class DeadLetter(SQLModel, table=True):
    """A message Keel gave up on, with why and where; replayable from the CLI."""

    __tablename__ = "dead_letters"
    __table_args__ = (sa.Index("ix_dead_letters_reason_created_at", "reason", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str | None = Field(default=None, max_length=36, index=True)
    reason: str = Field(max_length=32)
    step: str | None = Field(default=None, max_length=16)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    replayed_at: dt.datetime | None = _ts(nullable=True)


class Review(SQLModel, table=True):
    """A message escalated to a human, and the human's decision."""

    __tablename__ = "reviews"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=36, unique=True)
    reason: str = Field(max_length=200)
    status: str = Field(default="pending", max_length=16, index=True)
    draft_text: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    final_text: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    reviewer: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    decided_at: dt.datetime | None = _ts(nullable=True)


class Conversation(SQLModel, table=True):
    """One conversation: `(channel, conversation_id)`, or `(channel, contact)` when messages
    carry no conversation id. Holds what ordering, bursts and handoff need."""

    __tablename__ = "conversations"
    __table_args__ = (
        sa.UniqueConstraint("channel", "conversation_key", name="uq_conversations_channel_key"),
    )

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    channel: str = Field(max_length=16)
    # the client's conversation id, or "contact:<contact id>"
    conversation_key: str = Field(max_length=220)
    contact_id: str = Field(max_length=200)
    # the customer's last message: when they wrote it (the reply window runs from here),
    # and which message arrived last (only it may carry a reply)
    last_customer_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    latest_message_id: str = Field(max_length=36)
    # a person took over until then (SPEC 11, handoff)
    handoff_until: dt.datetime | None = _ts(nullable=True)
    # the one message between its lease and its send (delivery order, no two at once)
    lease_message_id: str | None = Field(default=None, max_length=36)
    lease_until: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class Contact(SQLModel, table=True):
    """A contact on one channel, kept for opt-out (SPEC 11): per contact and channel."""

    __tablename__ = "contacts"

    channel: str = Field(max_length=16, primary_key=True)
    contact_id: str = Field(max_length=200, primary_key=True)
    opted_out: bool = Field(default=False)
    opted_out_at: dt.datetime | None = _ts(nullable=True)
    opted_in_at: dt.datetime | None = _ts(nullable=True)
    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class Outcome(SQLModel, table=True):
    """What happened downstream of a conversation (SPEC 12): an enrolment, a call, a loss."""

    __tablename__ = "outcomes"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    external_id: str = Field(max_length=200, unique=True)
    channel: str = Field(max_length=16)
    conversation_ref: str | None = Field(default=None, max_length=36, index=True)
    message_id: str | None = Field(default=None, max_length=36, index=True)
    kind: str = Field(max_length=64)
    value: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric(14, 2)))
    currency: str | None = Field(default=None, max_length=3)
    occurred_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
