"""`/v1/conversations/...` and `/v1/contacts/.../opt-in` (SPEC 11). Thin: parse, call
`app.conversations`, return its public models."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from app.api.deps import SessionDep
from app.api.errors import error_response
from app.conversations.manage import (
    ConversationPublic,
    get_conversation,
    hand_off_by_id,
    opt_in,
    release,
)
from app.pipeline.schemas import Channel
from app.policy import get_policy

router = APIRouter(tags=["conversations"])
Id = Annotated[str, Path(min_length=1, max_length=200)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such conversation"}}


@router.get(
    "/v1/conversations/{channel}/{conversation_id}",
    response_model=ConversationPublic,
    responses=NOT_FOUND,
)
def read_conversation(channel: Channel, conversation_id: Id, session: SessionDep) -> Any:
    """The conversation's status and every turn, oldest first."""
    return get_conversation(session=session, channel=channel, conversation_id=conversation_id)


@router.post(
    "/v1/conversations/{channel}/{conversation_id}/handoff",
    response_model=ConversationPublic,
    responses=NOT_FOUND,
)
def handoff(channel: Channel, conversation_id: Id, session: SessionDep) -> Any:
    """A person takes over: Keel escalates new messages here (reason `handoff`) until
    released or `handoff_ttl_s` after the last human action."""
    return hand_off_by_id(
        session=session,
        channel=channel,
        conversation_id=conversation_id,
        policy=get_policy(),
        actor="api",
    )


@router.post(
    "/v1/conversations/{channel}/{conversation_id}/release",
    response_model=ConversationPublic,
    responses=NOT_FOUND,
)
def release_conversation(channel: Channel, conversation_id: Id, session: SessionDep) -> Any:
    """Keel answers on its own again."""
    return release(session=session, channel=channel, conversation_id=conversation_id, actor="api")


@router.post(
    "/v1/contacts/{channel}/{contact_id}/opt-in",
    responses={404: {"description": "no such contact"}},
)
def contact_opt_in(channel: Channel, contact_id: Id, session: SessionDep) -> Any:
    """The contact may receive replies on `channel` again (audited)."""
    if not opt_in(session=session, channel=channel, contact_id=contact_id, actor="api"):
        return error_response(404, "not_found", f"no contact {contact_id} on {channel}")
    return JSONResponse({"channel": channel, "contact_id": contact_id, "opted_out": False})
