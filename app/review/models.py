"""What the review queue returns: public models, never table rows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel

from app.db.models import Message, Review

ReviewStatus = Literal["pending", "approved", "rejected", "withdrawn"]
# Where a decision was taken: the review endpoints, the review page, the CLI on the server.
Via = Literal["api", "page", "cli"]


class ReviewPublic(BaseModel):
    """One escalated message, with what a reviewer needs to decide."""

    id: int
    message_id: str
    status: str
    reason: str
    channel: str
    contact_id: str
    contact_name: str | None = None
    contact_timezone: str | None = None
    language: str | None
    intent: str | None
    confidence: float | None = None
    message_text: str
    draft_text: str | None
    final_text: str | None
    reviewer: str | None
    # where the message stands now (sent, scheduled, rejected, ...) and when it may leave
    message_state: str | None = None
    send_at: dt.datetime | None = None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    conversation_id: str | None = None
    # what blocked the draft: [{"check", "reason", ...evidence}] (also an injection flag)
    violations: list[dict[str, Any]] = []
    # the conversation so far, oldest first: {"message_id", "role", "text", "at", "state"}
    conversation: list[dict[str, Any]] = []

    @classmethod
    def of(cls, review: Review, message: Message) -> ReviewPublic:
        assert review.id is not None
        return cls(
            id=review.id,
            message_id=review.message_id,
            status=review.status,
            reason=review.reason,
            channel=message.channel,
            contact_id=message.contact_id,
            contact_name=message.contact_name,
            contact_timezone=message.contact_timezone,
            language=message.language,
            intent=message.intent,
            confidence=message.confidence,
            message_text=message.text,
            draft_text=review.draft_text,
            final_text=review.final_text,
            reviewer=review.reviewer,
            message_state=message.state,
            send_at=message.send_at,
            created_at=review.created_at,
            decided_at=review.decided_at,
            conversation_id=message.conversation_id,
            violations=list(message.violations or []),
        )


class Decision(BaseModel):
    """The outcome of an approval or a rejection."""

    review: ReviewPublic
    state: str
    edited: bool = False
    override: bool = False
    send_at: dt.datetime | None = None
    overridden: list[str] = []
