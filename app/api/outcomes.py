"""`POST /v1/outcomes` (SPEC 12): what a conversation led to. Thin: parse, call `app.outcomes`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from app.api.errors import error_response
from app.db import session_scope
from app.outcomes import (
    OutcomeAccepted,
    OutcomeIn,
    OutcomeTargetNotFound,
    UnknownOutcomeKind,
    record_outcome,
)
from app.policy import get_policy

router = APIRouter(tags=["outcomes"])


@router.post(
    "/v1/outcomes",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OutcomeAccepted,
    responses={200: {"model": OutcomeAccepted, "description": "duplicate"}, 404: {}, 422: {}},
)
def post_outcome(outcome_in: OutcomeIn, response: Response) -> Any:
    """Record one outcome; the same `external_id` again returns the first id, adding nothing."""
    try:
        with session_scope() as session:
            outcome, duplicate = record_outcome(
                session=session, outcome_in=outcome_in, policy=get_policy(), actor="api"
            )
    except OutcomeTargetNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except UnknownOutcomeKind as exc:
        return error_response(
            422,
            "validation_error",
            f"kind: {exc}",
            details=[{"field": "kind", "problem": str(exc)}],
        )
    if duplicate:
        response.status_code = status.HTTP_200_OK
    return OutcomeAccepted(id=outcome.id, duplicate=duplicate)
