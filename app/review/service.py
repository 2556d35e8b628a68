"""Approving and rejecting reviews: keyword-only functions used by the API, the page and
the CLI.

Each decision is one transaction: the message moves on only if it is still escalated at
the version read (optimistic lock) and the review only if it is still pending, with its
audit events; the deliver step is enqueued after the commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import redis
import sqlalchemy as sa
from sqlmodel import Session, col

from app.audit import record
from app.broker import enqueue
from app.conversations.manage import hand_off
from app.db import session_scope
from app.db.models import Conversation, Message, MessageState, Review, utcnow
from app.guardrails import evaluate_reply
from app.lifecycle import Step, move
from app.policy import Policy, get_policy
from app.review.errors import EditBlocked, NothingToSend, ReviewConflict, ReviewNotFound
from app.review.models import Decision, ReviewPublic, Via

log = logging.getLogger("keel.review")
STEP = "review"


def _pending(session: Session, review_id: int) -> tuple[Review, Message]:
    review = session.get(Review, review_id)
    if review is None:
        raise ReviewNotFound(f"no review {review_id}")
    if review.status != "pending":
        raise ReviewConflict(f"review {review_id} is already {review.status}")
    message = session.get(Message, review.message_id)
    if message is None or message.state != MessageState.escalated:
        raise ReviewConflict(f"the message of review {review_id} is no longer escalated")
    return review, message


def _decide(
    session: Session,
    *,
    review: Review,
    message: Message,
    to: MessageState,
    updates: dict[str, Any],
    review_values: dict[str, Any],
    policy: Policy | None,
) -> None:
    """Move the message and the review on together and hand its conversation to people,
    or raise ReviewConflict."""
    moved = move(session, message, expect=MessageState.escalated, to=to, step_attempts=0, **updates)
    decided = session.execute(
        sa.update(Review)
        .where(col(Review.id) == review.id, col(Review.status) == "pending")
        .values(**review_values)
    )
    if not moved or decided.rowcount != 1:  # type: ignore[attr-defined]
        raise ReviewConflict(f"review {review.id} was decided by someone else meanwhile")
    # SPEC 11: a person acted in this conversation; Keel stays quiet there for a while
    conversation = (
        session.get(Conversation, message.conversation_ref) if message.conversation_ref else None
    )
    if conversation is not None:
        hand_off(
            session=session,
            conversation=conversation,
            policy=policy or get_policy(),
            actor="human",
            why="review",
        )


def _audit(session: Session, message: Message, action: str, detail: dict[str, Any]) -> None:
    record(
        session,
        message_id=message.id,
        action=action,
        actor="human",
        step=STEP,
        trace_id=message.trace_id,
        detail=detail,
    )


def approve(
    *,
    review_id: int,
    policy: Policy,
    reviewer: str,
    via: Via,
    text: str | None = None,
    override: bool = False,
    now: dt.datetime | None = None,
) -> Decision:
    """Send the draft, or `text` in its place, after the blocking output checks pass (or
    `override`, audited); outside the send window the reply is scheduled. `reviewer` is
    who decided as the caller established it (a reviewer key's name, the operator at the
    CLI), `via` where: both go in the audit.

    Raises:
        ReviewNotFound: no such review.
        ReviewConflict: already decided, or the message moved on.
        NothingToSend: no draft and no text.
        EditBlocked: the text fails a blocking check and `override` is not set.
    """
    now = now or utcnow()
    with session_scope() as session:
        review, message = _pending(session, review_id)
        final = (text if text is not None else review.draft_text or "").strip()
        if not final:
            raise NothingToSend(f"review {review_id} has no draft: give the text to send")
        edited = final != (review.draft_text or "").strip()
        evaluation = evaluate_reply(
            final,
            policy=policy,
            channel=message.channel,
            language=message.language,
            contact_timezone=message.contact_timezone,
            now=now,
        )
        failing, send_at = evaluation.failing, evaluation.send_at
        if failing and not override:
            raise EditBlocked(failing)
        state = MessageState.scheduled if send_at else MessageState.drafted
        updates: dict[str, Any] = {
            "reply_text": final,
            "send_at": send_at,
            "next_step": Step.deliver,
        }
        if edited:
            updates.update(reply_provider="human", reply_model="human")
        decided_at = utcnow()
        _decide(
            session,
            review=review,
            message=message,
            to=state,
            updates=updates,
            policy=policy,
            review_values={
                "status": "approved",
                "final_text": final,
                "reviewer": reviewer,
                "decided_at": decided_at,
            },
        )
        for verdict in evaluation.all_verdicts:
            _audit(session, message, "guardrail", verdict.audit_detail())
        overridden = [f"{v.check}:{v.reason}" for v in failing]
        _audit(
            session,
            message,
            "reviewed",
            {
                "decision": "approved",
                "review_id": review_id,
                "reviewer": reviewer,
                "via": via,
                "edited": edited,
                "override": override,
                "overridden": overridden,
                "chars": len(final),
            },
        )
        if send_at is not None:
            _audit(session, message, "scheduled", {"send_at": send_at.isoformat()})
        review.status, review.final_text = "approved", final
        review.reviewer, review.decided_at = reviewer, decided_at
        moved = {"message_state": state, "send_at": send_at}
        public = ReviewPublic.of(review, message).model_copy(update=moved)
    if send_at is None:
        _enqueue_deliver(message.id, policy=policy)
    log.info("review approved", extra={"review_id": review_id, "message_id": message.id})
    return Decision(
        review=public,
        state=state,
        edited=edited,
        override=override,
        send_at=send_at,
        overridden=overridden,
    )


def reject(
    *,
    review_id: int,
    reviewer: str,
    via: Via,
    reason: str | None = None,
    policy: Policy | None = None,
) -> Decision:
    """End the message as `rejected`; nothing is sent.

    Raises:
        ReviewNotFound: no such review.
        ReviewConflict: already decided, or the message moved on.
    """
    with session_scope() as session:
        review, message = _pending(session, review_id)
        decided_at = utcnow()
        _decide(
            session,
            review=review,
            message=message,
            to=MessageState.rejected,
            updates={"next_step": None, "reason": "rejected"},
            policy=policy,
            review_values={"status": "rejected", "reviewer": reviewer, "decided_at": decided_at},
        )
        _audit(
            session,
            message,
            "reviewed",
            {
                "decision": "rejected",
                "review_id": review_id,
                "reviewer": reviewer,
                "via": via,
                "note": reason,
            },
        )
        review.status, review.reviewer, review.decided_at = "rejected", reviewer, decided_at
        moved = {"message_state": MessageState.rejected, "send_at": None}
        public = ReviewPublic.of(review, message).model_copy(update=moved)
    log.info("review rejected", extra={"review_id": review_id, "message_id": message.id})
    return Decision(review=public, state=MessageState.rejected)


def _enqueue_deliver(message_id: str, *, policy: Policy) -> None:
    """Hand the approved message to the deliver queue; if Redis is away the message waits
    in the database (state drafted, next step deliver) for the reconciler."""
    try:
        enqueue(Step.deliver, message_id, tier=None, policy=policy)
    except (redis.RedisError, OSError) as exc:
        log.warning(
            "enqueue failed; left for the reconciler",
            extra={"message_id": message_id, "error": type(exc).__name__},
        )
