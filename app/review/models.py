"""What the review queue returns: public models, never table rows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel

from app.db.models import Message, Review

ReviewStatus = Literal["pending", "approved", "rejected", "withdrawn"]


class ReviewPublic(BaseModel):
    """One escalated message, with what a reviewer needs to decide."""

    id: int
    message_id: str
    status: str
    reason: str
    channel: str
    language: str | None
    intent: str | None
    message_text: str
    draft_text: str | None
    final_text: str | None
    reviewer: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    conversation_id: str | None = None
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
            language=message.language,
            intent=message.intent,
            message_text=message.text,
            draft_text=review.draft_text,
            final_text=review.final_text,
            reviewer=review.reviewer,
            created_at=review.created_at,
            decided_at=review.decided_at,
            conversation_id=message.conversation_id,
        )


class Decision(BaseModel):
    """The outcome of an approval or a rejection."""

    review: ReviewPublic
    state: str
    edited: bool = False
    override: bool = False
    send_at: dt.datetime | None = None
    overridden: list[str] = []
