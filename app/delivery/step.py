"""The deliver step's work: fix the reply text in a delivery row first, then POST it to
the webhook (or log it in shadow mode). The pipeline commits what it returns."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from app.config import Settings, get_settings
from app.db import direct, get_engine, session_scope
from app.db.models import Delivery, Message, MessageState, utcnow
from app.delivery.webhook import idempotency_key, post_reply

log = logging.getLogger("keel.delivery")

_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]
MARK_SENT = (
    sa.update(_DELIVERIES)
    .where(_DELIVERIES.c.id == sa.bindparam("sent_delivery"))
    .values(
        attempts=sa.bindparam("sent_attempts"),
        status="sent",
        last_error=None,
        last_status_code=sa.bindparam("sent_status"),
        delivered_at=sa.bindparam("sent_at"),
    )
)


@dataclass(frozen=True)
class Delivered:
    """A reply that reached its target, and the row to mark `sent` with the message."""

    target: str
    idempotency_key: str
    http_status: int | None
    attempts: int
    delivery_id: int | None
    delivered_at: dt.datetime

    @property
    def mark_sent(self) -> tuple[sa.Update, dict[str, Any]]:
        """The delivery row's update to `sent`, made in the message's commit: the
        statement and its values."""
        return MARK_SENT, {
            "sent_delivery": self.delivery_id,
            "sent_attempts": self.attempts,
            "sent_status": self.http_status,
            "sent_at": self.delivered_at,
        }

    def audit_detail(self) -> dict[str, object]:
        return {
            "target": self.target,
            "idempotency_key": self.idempotency_key,
            "http_status": self.http_status,
            "attempts": self.attempts,
        }


def deliver(message: Message, *, now: dt.datetime) -> Delivered | None:
    """Send the message's reply once its send time has come (None before it).

    Raises:
        DeliveryRejected: the webhook refused the reply (a 4xx but 429).
        DeliveryRetryable: 5xx, 429, a timeout or a connection error.
    """
    if message.state == MessageState.scheduled and message.send_at and message.send_at > now:
        return None
    settings = get_settings()
    delivery = _ensure_delivery(message, target=delivery_target(settings))
    if delivery.target == "webhook" and settings.keel_webhook_url:
        payload = delivery_payload(message) | {"text": delivery.text}
        status: int | None = post_reply(
            url=settings.keel_webhook_url,
            secret=settings.keel_webhook_secret,
            payload=payload,
            key=delivery.idempotency_key,
            timeout_s=settings.keel_webhook_timeout_s,
        )
    else:
        status = None
        log.info("delivered to log channel", extra={"message_id": message.id})
    attempts = delivery.attempts + 1
    return Delivered(
        target=delivery.target,
        idempotency_key=delivery.idempotency_key,
        http_status=status or None,
        attempts=attempts,
        delivery_id=delivery.id,
        delivered_at=utcnow(),
    )


def note_failure(message: Message, *, status: str, error: str) -> None:
    """Count a failed attempt on the message's delivery row (if one was made)."""
    with session_scope() as session:
        delivery = session.exec(select(Delivery).where(Delivery.message_id == message.id)).first()
        if delivery is None:
            return
        delivery.attempts += 1
        delivery.status = status
        delivery.last_error = error
        session.add(delivery)


def delivery_payload(message: Message) -> dict[str, object]:
    """The webhook's JSON body (SPEC 5)."""
    return {
        "message_id": message.id,
        "external_id": message.external_id,
        "channel": message.channel,
        "contact_id": message.contact_id,
        "conversation_id": message.conversation_id,
        "text": message.reply_text,
        "tier": message.tier,
        "model": message.reply_model,
    }


def delivery_target(settings: Settings) -> str:
    return "webhook" if settings.keel_webhook_url else "log"


_INSERTED = (
    "message_id", "idempotency_key", "text", "channel", "target", "tier", "model", "status",
    "attempts", "created_at",
)  # fmt: skip
_INSERT = {
    name: insert(_DELIVERIES)
    .values({column: sa.bindparam(column) for column in _INSERTED})
    .on_conflict_do_nothing()
    .returning(_DELIVERIES)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_READ = sa.select(_DELIVERIES).where(_DELIVERIES.c.message_id == sa.bindparam("message_id"))


def _ensure_delivery(message: Message, *, target: str) -> Delivery:
    """The message's delivery row; the first call inserts it, fixing the reply text
    before any POST. One statement in autocommit; a second only when it existed."""
    values = {
        "message_id": message.id,
        "idempotency_key": idempotency_key(message.id),
        "text": message.reply_text or "",
        "channel": message.channel,
        "target": target,
        "tier": message.tier,
        "model": message.reply_model,
        "status": "pending",
        "attempts": 0,
        "created_at": utcnow(),
    }
    row = direct.execute(_INSERT[get_engine().dialect.name], values).first()
    if row is None:  # made by an earlier attempt: its text stands
        row = direct.execute(_READ, {"message_id": message.id}).first()
        assert row is not None
    return Delivery(**row)
