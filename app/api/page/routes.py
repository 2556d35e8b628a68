"""`/review`: sign in with a reviewer key, the queue oldest first (filtered by reason and
language, with the outcome of the last decision), and what is stuck below it."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.guard import reviewer_named
from app.api.page import views
from app.api.page.render import (
    EXPIRED,
    Text,
    detail_url,
    filters_of,
    queue_url,
    redirect,
    refused,
    render,
    reviewers,
)
from app.api.page.session import PageSession, end_session, load_session
from app.api.page.stuck import stuck
from app.db import session_scope
from app.db.models import utcnow
from app.policy import get_policy
from app.review import get_review, list_reviews, pending_facets

log = logging.getLogger("keel.review.page")
QUEUE_SHOWN = 100
# After an approval, the queue reloads itself this often, this many times, until the
# reply has left (the worker delivers it within moments).
POLL_S = 2
POLLS = 3
router = APIRouter(prefix="/review", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def queue(
    request: Request,
    reason: Annotated[str | None, Query(max_length=200)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    decided: int | None = None,
    poll: Annotated[int, Query(ge=0, le=POLLS)] = 0,
) -> HTMLResponse:
    """The sign-in form, or the queue oldest first with what is stuck below it. After a
    decision (`decided`) it says what became of it; while an approved reply is still on
    its way the page looks again by itself, `POLLS` times (no script needed)."""
    session = load_session(request, reviewers())
    if session.reviewer is None:
        return render(request, session, "sign_in.html", configured=bool(reviewers()))
    policy, now = get_policy(), utcnow()
    filters = filters_of(reason, language)
    with session_scope() as db:
        reviews = list_reviews(session=db, limit=QUEUE_SHOWN, reason_kind=reason, language=language)
        kinds, languages = pending_facets(session=db)
        outcome_of = get_review(session=db, review_id=decided) if decided else None
    outcome = views.outcome_of(outcome_of, policy=policy) if outcome_of else None
    refresh = None
    if outcome is not None and outcome.kind == "sending" and poll < POLLS:
        refresh = queue_url(filters, decided=decided, poll=poll + 1) + "#result"
    items = [
        {
            "review": r,
            "clock": views.clock_of(r, policy=policy, now=now),
            "waited": views.waited(r.created_at, now=now),
            "snippet": views.snippet(r.message_text),
            "why": views.reason_words(r),
            "language": views.language_name(r.language),
            "href": detail_url(r.id, filters),
        }
        for r in reviews
    ]
    return render(
        request,
        session,
        "queue.html",
        items=items,
        total=sum(kinds.values()),
        kinds=[(k, views.filter_label(k), n) for k, n in kinds.most_common()],
        languages=[(code, views.language_name(code), n) for code, n in languages.most_common()],
        filters=filters,
        clear_url="/review",
        filter_url=lambda **f: queue_url({k: v for k, v in {**filters, **f}.items() if v}),
        decided_review=outcome_of,
        outcome=outcome,
        stuck=stuck(policy=policy, now=now),
        shown_max=QUEUE_SHOWN,
        refresh=refresh,
        refresh_s=POLL_S,
    )


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, key: Text = "", csrf_token: Text = "") -> Response:
    """A reviewer key opens a session named after it; anything else is refused."""
    keys = reviewers()
    session = load_session(request, keys)
    if not session.csrf_matches(csrf_token):
        return refused(request, session, EXPIRED)
    name = reviewer_named(key.strip(), keys) if key.strip() else None
    if name is None:
        log.warning("review page: sign-in refused")
        return render(
            request,
            session,
            "sign_in.html",
            status=401,
            configured=bool(keys),
            error="That is not a reviewer key.",
        )
    log.info("review page: signed in", extra={"reviewer": name})
    return redirect(request, "/review", PageSession.new(name))


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Text = "") -> Response:
    session = load_session(request, reviewers())
    if not session.csrf_matches(csrf_token):
        return refused(request, session, EXPIRED)
    response = redirect(request, "/review")
    end_session(response, request=request)
    return response
