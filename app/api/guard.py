"""ASGI middleware that refuses bad requests before any body is parsed:
401 without a valid bearer key (constant-time), 403 with a key of the other kind (an
ingest key on the review endpoints, a reviewer key elsewhere), 415 when not JSON, 413
when too big. The review page's form posts get the size limit too.

A reviewer key's name is put in the request's state (`request.state.reviewer`): the
review endpoints record the reviewer from it, never from the request body."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROTECTED_PREFIX = "/v1/"
REVIEW_PREFIX = "/v1/reviews"
PAGE_PREFIX = "/review"


async def _reply(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def key_matches(presented: str, keys: list[str]) -> bool:
    """Constant-time comparison against every configured key."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(presented.encode(), key.encode())
    return found


def reviewer_named(presented: str, reviewers: dict[str, str]) -> str | None:
    """The name of the reviewer key `presented` is, compared in constant time with every
    configured token; None when it is none of them."""
    found: str | None = None
    for name, token in reviewers.items():
        if hmac.compare_digest(presented.encode(), token.encode()):
            found = name
    return found


def is_review_path(path: str) -> bool:
    return path == REVIEW_PREFIX or path.startswith(REVIEW_PREFIX + "/")


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_keys: Callable[[], list[str]],
        reviewer_keys: Callable[[], dict[str, str]],
        max_body_bytes: int,
        max_batch_bytes: int,
    ) -> None:
        self.app = app
        self.api_keys = api_keys
        self.reviewer_keys = reviewer_keys
        self.max_body_bytes = max_body_bytes
        self.max_batch_bytes = max_batch_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(PAGE_PREFIX) and scope["method"] == "POST":
            await self._page_form(scope, receive, send)
            return
        if not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        ingest = bool(token) and key_matches(token, self.api_keys())
        reviewer = reviewer_named(token, self.reviewer_keys()) if token else None
        if is_review_path(scope["path"]):
            if reviewer is None:
                if ingest:
                    await _reply(send, 403, "forbidden", "the review endpoints take a reviewer key")
                else:
                    await _reply(send, 401, "unauthorized", "a valid bearer reviewer key is needed")
                return
            scope.setdefault("state", {})["reviewer"] = reviewer
        elif not ingest:
            if reviewer is not None:
                await _reply(send, 403, "forbidden", "a reviewer key opens only /v1/reviews")
            else:
                await _reply(send, 401, "unauthorized", "a valid bearer API key is required")
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if not ctype and headers.get("content-length") == "0":
                await self.app(scope, receive, send)  # no body at all: nothing to parse
                return
            if ctype != "application/json":
                await _reply(send, 415, "unsupported_media_type", "send application/json")
                return
            limit = (
                self.max_batch_bytes if scope["path"].endswith(":batch") else self.max_body_bytes
            )
            length = headers.get("content-length")
            if length and length.isdigit() and int(length) > limit:
                await _reply(send, 413, "payload_too_large", f"body over {limit} bytes")
                return
            body = await self._read_limited(receive, limit)
            if body is None:
                await _reply(send, 413, "payload_too_large", f"body over {limit} bytes")
                return
            await self.app(scope, _replay(body, receive), send)
            return
        await self.app(scope, receive, send)

    async def _page_form(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A review page form post, read whole under the body limit (the page itself
        checks the session and the CSRF token)."""
        body = await self._read_limited(receive, self.max_body_bytes)
        if body is None:
            await _reply(send, 413, "payload_too_large", f"body over {self.max_body_bytes} bytes")
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read_limited(receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None as soon as it passes `limit` (chunked bodies too)."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
