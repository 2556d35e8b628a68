"""Reading the review queue: the reviews to decide, oldest first, with the conversation so
far; one review with its message; how many wait, by reason and by language."""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.conversations.manage import turns_of
from app.db.models import Message, Review
from app.review.models import ReviewPublic, ReviewStatus
from app.review.words import GUARDRAIL_PREFIX, reason_kind

CONVERSATION_TURNS_SHOWN = 20
# The language filter's value for messages whose language was never found.
NO_LANGUAGE = "none"


def list_reviews(
    *,
    session: Session,
    status: ReviewStatus | None = "pending",
    limit: int = 100,
    reason_kind: str | None = None,
    language: str | None = None,
) -> list[ReviewPublic]:
    """Reviews with `status` (every status when None), oldest first; only those of one
    reason family (`guardrail`, `intent:refund_request`, ...) or one language when given
    (`none` for messages without one)."""
    query = select(Review, Message).join(Message, col(Message.id) == col(Review.message_id))
    if status is not None:
        query = query.where(Review.status == status)
    if reason_kind == "guardrail":
        query = query.where(col(Review.reason).startswith(GUARDRAIL_PREFIX, autoescape=True))
    elif reason_kind:
        query = query.where(Review.reason == reason_kind)
    if language == NO_LANGUAGE:
        query = query.where(col(Message.language).is_(None))
    elif language:
        query = query.where(Message.language == language)
    rows = session.exec(query.order_by(col(Review.created_at), col(Review.id)).limit(limit)).all()
    return [_public(session, review, message) for review, message in rows]


def get_review(*, session: Session, review_id: int) -> ReviewPublic | None:
    """One review, whatever its status, with the conversation so far; None if there is
    no such review."""
    review = session.get(Review, review_id)
    if review is None:
        return None
    message = session.get(Message, review.message_id)
    return None if message is None else _public(session, review, message)


def pending_facets(*, session: Session) -> tuple[Counter[str], Counter[str]]:
    """How many reviews wait, by reason family and by language (`none` without one)."""
    rows = session.exec(
        select(Review.reason, Message.language, sa.func.count())
        .join(Message, col(Message.id) == col(Review.message_id))
        .where(Review.status == "pending")
        .group_by(col(Review.reason), col(Message.language))
    ).all()
    kinds: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    for reason, language, count in rows:
        kinds[reason_kind(reason)] += count
        languages[language or NO_LANGUAGE] += count
    return kinds, languages


def _public(session: Session, review: Review, message: Message) -> ReviewPublic:
    return ReviewPublic.of(review, message).model_copy(
        update={"conversation": _conversation(session, message)}
    )


def _conversation(session: Session, message: Message) -> list[dict[str, Any]]:
    """The conversation so far, for the person deciding (its latest turns)."""
    if message.conversation_ref is None:
        return []
    turns = turns_of(session, message.conversation_ref, limit=CONVERSATION_TURNS_SHOWN)
    return [t.model_dump(mode="json") for t in turns]
