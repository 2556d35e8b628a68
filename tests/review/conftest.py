"""An escalated message with its pending review, written straight to the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from app.db import session_scope
from app.db.models import Message, Review
from app.pipeline.intake import accept_message
from app.pipeline.schemas import MessageIn

Escalate = Callable[..., tuple[str, int]]


@pytest.fixture
def escalated(keel_env: dict[str, str]) -> Escalate:
    """`escalated(draft=..., timezone=..., text=..., name=..., language=...)` -> (message
    id, review id)."""
    counter = iter(range(1, 1000))

    def make(
        draft: str | None = "¡Hola! El curso intensivo cuesta 399 €.",
        *,
        timezone: str = "Europe/Madrid",
        reason: str = "guardrail:prices:price_not_in_catalog",
        text: str = "Hola, ¿cuánto cuesta el curso intensivo de inglés?",
        name: str | None = None,
        language: str = "es",
        contact_id: str = "c-1",
        violations: list[dict[str, Any]] | None = None,
    ) -> tuple[str, int]:
        contact: dict[str, Any] = {"id": contact_id, "timezone": timezone, "locale": language}
        if name is not None:
            contact["name"] = name
        payload: dict[str, Any] = {
            "external_id": f"wa-review-{next(counter)}",
            "channel": "whatsapp",
            "contact": contact,
            "text": text,
        }
        with session_scope() as session:
            message, _ = accept_message(
                session=session, message_in=MessageIn.model_validate(payload), actor="api"
            )
            session.execute(
                sa.update(Message)
                .where(Message.id == message.id)  # type: ignore[arg-type]
                .values(
                    state="escalated",
                    next_step=None,
                    language=language,
                    violations=violations,
                    intent="pricing",
                    tier="flagship",
                    reply_text=draft,
                    escalation_reason=reason,
                )
            )
            review = Review(message_id=message.id, reason=reason, draft_text=draft)
            session.add(review)
            session.flush()
            assert review.id is not None
            return message.id, review.id

    return make
