"""`/v1/messages`, `/v1/messages:batch`, `/v1/messages/{id}`, `/healthz`, `/readyz`."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import kombu.exceptions
import redis
import sqlalchemy as sa
from fastapi import APIRouter, Body, HTTPException, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.api.deps import SessionDep
from app.api.models import Accepted, BatchAccepted, Health, MessagePublic
from app.audit import timeline
from app.broker import enqueue_many
from app.db import session_scope
from app.db.models import Message
from app.lifecycle import Step
from app.pipeline.intake import accept_message
from app.pipeline.schemas import BatchIn, MessageIn, MessageList
from app.policy import get_policy
from app.state import get_redis

log = logging.getLogger("keel.api")
router = APIRouter()


def _enqueue_ingest(ids: list[str]) -> None:
    """Hand new ids to the queue. If Redis is away, the message is safe in the database
    and the reconciler picks it up; the client still gets its 202. (kombu raises its own
    OperationalError when a publish fails after its retries.)"""
    if not ids:
        return
    try:
        enqueue_many(((Step.ingest, mid, None) for mid in ids), policy=get_policy())
    except (redis.RedisError, kombu.exceptions.OperationalError, OSError) as exc:
        log.warning("enqueue failed; left for the reconciler", extra={"error": type(exc).__name__})


@router.post(
    "/v1/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={200: {"model": Accepted, "description": "duplicate"}},
)
def post_message(message_in: MessageIn, response: Response) -> Accepted:
    """Accept one message; the same `(channel, external_id)` again returns the first id."""
    with session_scope() as session:
        message, duplicate = accept_message(session=session, message_in=message_in, actor="api")
    if duplicate:
        response.status_code = status.HTTP_200_OK
    else:
        _enqueue_ingest([message.id])
    return Accepted(id=message.id, status=message.state, duplicate=duplicate)


@router.post(
    "/v1/messages:batch", status_code=status.HTTP_202_ACCEPTED, response_model=BatchAccepted
)
def post_batch(payload: Annotated[BatchIn | MessageList, Body()]) -> Any:
    """Accept up to 500 messages, as `{"messages": [...]}` or a bare JSON array."""
    parsed = payload.messages if isinstance(payload, BatchIn) else payload
    results: list[Accepted] = []
    new_ids: list[str] = []
    with session_scope() as session:
        for message_in in parsed:
            message, duplicate = accept_message(session=session, message_in=message_in, actor="api")
            results.append(Accepted(id=message.id, status=message.state, duplicate=duplicate))
            if not duplicate:
                new_ids.append(message.id)
    _enqueue_ingest(new_ids)
    body = BatchAccepted(
        results=results, accepted=len(new_ids), duplicates=len(results) - len(new_ids)
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=202)


@router.get("/v1/messages/{message_id}", response_model=MessagePublic)
def get_message(message_id: str, session: SessionDep) -> MessagePublic:
    """One message's state, classification, cost, reply and audit timeline."""
    message = session.get(Message, message_id) if len(message_id) <= 36 else None
    if message is None:
        raise HTTPException(status_code=404, detail="no such message")
    return MessagePublic.of(message, timeline(session, message.id))


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


def _check_db(session: Session) -> None:
    session.exec(sa.select(1))  # type: ignore[call-overload]


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz() -> Any:
    """Redis and the database both answer."""
    checks: dict[str, str] = {}
    try:
        with session_scope() as session:
            _check_db(session)
        checks["database"] = "ok"
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = type(exc).__name__
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except (redis.RedisError, OSError) as exc:
        checks["redis"] = type(exc).__name__
    ready = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
