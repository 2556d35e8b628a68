"""The JSON error envelope `{"error": {"code", "message"}}` for every failure."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.conversations.manage import ConversationNotFound


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=status)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "request body is not valid JSON")
    details = [
        {"field": _loc(tuple(e.get("loc", ()))), "problem": str(e.get("msg", "invalid"))}
        for e in errors
    ]
    first = details[0] if details else {"field": "body", "problem": "invalid"}
    return error_response(
        422,
        "validation_error",
        f"{first['field']}: {first['problem']}",
        details=details[:50],
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _no_conversation(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def _database_away(request: Request, exc: Exception) -> JSONResponse:
    # Postgres is down or restarting: nothing was stored; the client should retry.
    response = error_response(
        503, "database_unavailable", "the database is not answering; retry shortly"
    )
    response.headers["Retry-After"] = "2"
    return response


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    # Every database connection of this process stayed busy for the pool's timeout: a
    # burst beyond what the process serves; nothing was stored, the client should retry.
    response = error_response(503, "busy", "the server is at capacity; retry shortly")
    response.headers["Retry-After"] = "2"
    return response


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # A bug of ours, not the client's: say so without leaking internals.
    return error_response(500, "internal_error", "unexpected server error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ConversationNotFound, _no_conversation)
    app.add_exception_handler(sa.exc.OperationalError, _database_away)
    app.add_exception_handler(sa.exc.InterfaceError, _database_away)
    app.add_exception_handler(sa.exc.TimeoutError, _pool_exhausted)
    app.add_exception_handler(Exception, _unhandled)
