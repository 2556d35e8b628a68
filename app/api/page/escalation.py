"""`/review/{id}`: one escalation, and the reviewer's decision on it.

Every form posts back with the session's CSRF token (403 without it); a decision is
taken by `app.review`'s `approve` and `reject`, the same as the API's and the CLI's,
signed with the session's reviewer name. After a decision the browser goes back to the
queue (POST, redirect, GET), which says what became of it; a text the guardrails block
comes back with why, in words, and the text kept.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.page import views
from app.api.page.render import (
    EXPIRED,
    Text,
    filters_of,
    queue_url,
    redirect,
    refused,
    render,
    reviewers,
)
from app.api.page.session import PageSession, load_session
from app.db import session_scope
from app.db.models import utcnow
from app.pipeline.schemas import MAX_TEXT_CHARS
from app.policy import get_policy
from app.review import (
    EditBlocked,
    NothingToSend,
    ReviewConflict,
    ReviewNotFound,
    ReviewPublic,
    approve,
    explain_violation,
    get_review,
    reject,
)

NOTE_MAX_CHARS = 500
router = APIRouter(prefix="/review", include_in_schema=False)


def _detail(
    request: Request,
    session: PageSession,
    review: ReviewPublic,
    *,
    filters: dict[str, str],
    status: int = 200,
    text: str | None = None,
    blocked: list[str] | None = None,
    error: str | None = None,
) -> HTMLResponse:
    policy = get_policy()
    return render(
        request,
        session,
        "escalation.html",
        status=status,
        review=review,
        clock=views.clock_of(review, policy=policy, now=utcnow()),
        why=views.reason_words(review),
        draft_blocked=views.blocked_words(review),
        language=views.language_name(review.language),
        text=(review.draft_text or "") if text is None else text,
        blocked=blocked or [],
        error=error,
        filters=filters,
        back_url=queue_url(filters),
        outcome=views.outcome_of(review, policy=policy) if review.status != "pending" else None,
        max_chars=MAX_TEXT_CHARS,
    )


def _load(review_id: int) -> ReviewPublic | None:
    with session_scope() as db:
        return get_review(session=db, review_id=review_id)


@router.get("/{review_id}", response_class=HTMLResponse)
def escalation(
    request: Request,
    review_id: int,
    reason: Annotated[str | None, Query(max_length=200)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """One escalation: why, the conversation, the draft and what blocked it, the forms."""
    session = load_session(request, reviewers())
    if session.reviewer is None:
        return redirect(request, "/review", session)
    review = _load(review_id)
    if review is None:
        return render(request, session, "refused.html", status=404, why="No such review.")
    return _detail(request, session, review, filters=filters_of(reason, language))


def _signed_in(request: Request, csrf_token: str) -> PageSession | HTMLResponse:
    """The session of a decision's form post, or the page refusing it."""
    session = load_session(request, reviewers())
    if not session.csrf_matches(csrf_token):
        return refused(request, session, EXPIRED)
    if session.reviewer is None:
        return refused(request, session, "Sign in with your reviewer key first.")
    return session


@router.post("/{review_id}/approve", response_class=HTMLResponse)
def approve_form(
    request: Request,
    review_id: int,
    text: Text = "",
    csrf_token: Text = "",
    reason: Text = "",
    language: Text = "",
) -> Response:
    """Send the text in the box (the draft, or the reviewer's edit) once it passes the
    guardrails; a refusal shows why and keeps the text."""
    session = _signed_in(request, csrf_token)
    if isinstance(session, HTMLResponse):
        return session
    filters = filters_of(reason[:200], language[:16])
    review = _load(review_id)
    if review is None:
        return render(request, session, "refused.html", status=404, why="No such review.")
    text = text.replace("\r\n", "\n")
    problem = _bad_text(text)
    if problem:
        return _detail(request, session, review, filters=filters, status=422, text=text,
                       error=problem)  # fmt: skip
    assert session.reviewer is not None
    try:
        approve(
            review_id=review_id,
            policy=get_policy(),
            text=text,
            reviewer=session.reviewer,
            via="page",
        )
    except EditBlocked as exc:
        blocked = [explain_violation(v) for v in exc.violations()]
        return _detail(request, session, review, filters=filters, status=422, text=text,
                       blocked=blocked)  # fmt: skip
    except NothingToSend:
        return _detail(request, session, review, filters=filters, status=422, text=text,
                       error="Write the reply to send: there is no draft.")  # fmt: skip
    except (ReviewConflict, ReviewNotFound):
        return _conflict(request, session, review_id, filters)
    return redirect(request, queue_url(filters, decided=review_id) + "#result")


@router.post("/{review_id}/reject", response_class=HTMLResponse)
def reject_form(
    request: Request,
    review_id: int,
    note: Text = "",
    csrf_token: Text = "",
    reason: Text = "",
    language: Text = "",
) -> Response:
    """End the message as `rejected`: nothing is sent."""
    session = _signed_in(request, csrf_token)
    if isinstance(session, HTMLResponse):
        return session
    filters = filters_of(reason[:200], language[:16])
    why = note.replace("\x00", "").strip()[:NOTE_MAX_CHARS] or None
    assert session.reviewer is not None
    try:
        reject(review_id=review_id, reason=why, reviewer=session.reviewer, via="page")
    except (ReviewConflict, ReviewNotFound):
        return _conflict(request, session, review_id, filters)
    return redirect(request, queue_url(filters, decided=review_id) + "#result")


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "The text has a NUL character in it; remove it."
    if len(text) > MAX_TEXT_CHARS:
        return f"The text is {len(text)} characters long; at most {MAX_TEXT_CHARS}."
    return None


def _conflict(
    request: Request, session: PageSession, review_id: int, filters: dict[str, str]
) -> HTMLResponse:
    """Someone decided first, or the message moved on: show how it stands now."""
    review = _load(review_id)
    if review is None:
        return render(request, session, "refused.html", status=404, why="No such review.")
    return _detail(request, session, review, filters=filters, status=409,
                   error="This review was already decided: nothing was changed.")  # fmt: skip
