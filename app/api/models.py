"""Public response models; table rows never leave the API as they are."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from app.db.models import AuditEvent, Message


class Accepted(BaseModel):
    id: str
    status: str
    duplicate: bool


class BatchAccepted(BaseModel):
    results: list[Accepted]
    accepted: int
    duplicates: int


class TimelineEntry(BaseModel):
    at: dt.datetime
    step: str | None
    action: str
    actor: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> TimelineEntry:
        return cls(
            at=event.at,
            step=event.step,
            action=event.action,
            actor=event.actor,
            detail=event.detail,
        )


class MessagePublic(BaseModel):
    id: str
    external_id: str
    channel: str
    state: str
    intent: str | None
    language: str | None
    confidence: float | None
    tier: str | None
    cost_usd: str
    reply: str | None
    escalation_reason: str | None
    # why it ended no_reply, escalated or dead; the message whose reply answered it
    reason: str | None
    answered_by: str | None
    conversation_id: str | None
    created_at: dt.datetime
    timeline: list[TimelineEntry]

    @classmethod
    def of(cls, message: Message, events: list[AuditEvent]) -> MessagePublic:
        return cls(
            id=message.id,
            external_id=message.external_id,
            channel=message.channel,
            state=message.state,
            intent=message.intent,
            language=message.language,
            confidence=message.confidence,
            tier=message.tier,
            cost_usd=f"{message.cost_usd:.6f}",
            reply=message.reply_text if message.state == "sent" else None,
            escalation_reason=message.escalation_reason,
            reason=message.reason or message.escalation_reason,
            answered_by=message.answered_by or (message.id if message.state == "sent" else None),
            conversation_id=message.conversation_id,
            created_at=message.created_at,
            timeline=[TimelineEntry.of(e) for e in events],
        )


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}
