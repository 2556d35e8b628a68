"""`/v1/reviews`: the human escalation queue (SPEC 4). Thin: parse, call `app.review`.

Reviewer keys only (the guard refuses an ingest key with 403); the reviewer is the key's
name, never a field of the request, and there is no override over HTTP: a text that fails
the guardrails is refused (an operator can still force one from the CLI on the server)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.deps import SessionDep
from app.api.errors import error_response
from app.pipeline.schemas import MAX_TEXT_CHARS
from app.policy import get_policy
from app.review import (
    Decision,
    EditBlocked,
    NothingToSend,
    ReviewConflict,
    ReviewNotFound,
    ReviewPublic,
    approve,
    list_reviews,
    reject,
)

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


class ApproveIn(BaseModel):
    """Optional body of an approval: the text to send in place of the draft."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)

    _clean = field_validator("text")(_no_nul)


class RejectIn(BaseModel):
    """Optional body of a rejection."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)

    _clean = field_validator("reason")(_no_nul)


class ReviewList(BaseModel):
    reviews: list[ReviewPublic]


@router.get("", response_model=ReviewList)
def get_reviews(
    session: SessionDep,
    status: Literal["pending", "approved", "rejected", "withdrawn", "all"] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReviewList:
    """Reviews waiting for a person (or with `status`), oldest first."""
    wanted = None if status == "all" else status
    return ReviewList(reviews=list_reviews(session=session, status=wanted, limit=limit))


def reviewer_of(request: Request) -> str:
    """The name of the reviewer key the guard accepted for this request."""
    name = getattr(request.state, "reviewer", None)
    if not name:  # the guard lets no request through without one; never trust a body
        raise HTTPException(status_code=401, detail="a valid bearer reviewer key is required")
    return str(name)


def _refused(exc: Exception) -> Any:
    if isinstance(exc, ReviewNotFound):
        raise HTTPException(status_code=404, detail=str(exc))
    if isinstance(exc, ReviewConflict):
        return error_response(409, "conflict", str(exc))
    if isinstance(exc, EditBlocked):
        return JSONResponse(
            {
                "error": {
                    "code": "guardrail_blocked",
                    "message": str(exc),
                    "violations": exc.violations(),
                }
            },
            status_code=422,
        )
    return error_response(422, "nothing_to_send", str(exc))


@router.post(
    "/{review_id}/approve",
    response_model=Decision,
    responses={404: {}, 409: {}, 422: {}},
)
def post_approve(
    review_id: int, request: Request, body: Annotated[ApproveIn | None, Body()] = None
) -> Any:
    """Send the draft, or the edited `text`, once it passes the guardrails."""
    data = body or ApproveIn()
    try:
        return approve(
            review_id=review_id,
            policy=get_policy(),
            text=data.text,
            reviewer=reviewer_of(request),
            via="api",
        )
    except (ReviewNotFound, ReviewConflict, EditBlocked, NothingToSend) as exc:
        return _refused(exc)


@router.post("/{review_id}/reject", response_model=Decision, responses={404: {}, 409: {}})
def post_reject(
    review_id: int, request: Request, body: Annotated[RejectIn | None, Body()] = None
) -> Any:
    """End the message as `rejected`; nothing is sent."""
    data = body or RejectIn()
    try:
        return reject(
            review_id=review_id, reason=data.reason, reviewer=reviewer_of(request), via="api"
        )
    except (ReviewNotFound, ReviewConflict) as exc:
        return _refused(exc)
