"""The raw ASGI app: routes provider calls through outages, rules and default answers, and
serves the `/_sim/*` control endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.simulator import wire
from app.simulator.admin import handle_admin
from app.simulator.answers import answer_for
from app.simulator.rules import LatencyMs, Rule, RuleBook
from app.simulator.state import Outages, PromptCaches, Stats

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TIMEOUT_HOLD_S = 300.0
_ROUTES = {
    "/anthropic/v1/messages": wire.ANTHROPIC,
    "/openai/v1/chat/completions": wire.OPENAI,
}
_JSON = (b"content-type", b"application/json")


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    while message.get("more_body"):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def send_json(
    send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        await asyncio.sleep(0.01)


async def hold_open(receive: Receive, seconds: float, release: asyncio.Event) -> str:
    """Hold a request: `disconnected` (client left), `released` or `expired` (`seconds`)."""
    waiters = {
        asyncio.ensure_future(_until_disconnect(receive)),
        asyncio.ensure_future(release.wait()),
    }
    try:
        done, _ = await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
    finally:
        for waiter in waiters:
            waiter.cancel()
    if not done:
        return "expired"
    return "released" if release.is_set() else "disconnected"


async def reset_connection(receive: Receive) -> None:
    """Close the client's connection with a TCP reset and no response at all.

    Uvicorn answers 500 when an app raises before starting a response, so the transport
    is reached through uvicorn's request cycle (the owner of `receive`) and aborted.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionResetError("simulated connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await receive()  # returns http.disconnect once uvicorn has seen the connection go


class Simulator:
    """One simulator: its rules, outages and stats live on the instance."""

    def __init__(self, *, rules: list[Rule], latency_ms: LatencyMs) -> None:
        self.rules = RuleBook()
        self.rules.add(rules)
        self.outages = Outages()
        self.stats = Stats()
        self.caches = PromptCaches()
        self.latency_ms = latency_ms
        self._random = random.Random(0)
        self._ids = itertools.count(1)
        self._id_prefix = "sim" + secrets.token_hex(4)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release = asyncio.Event()

    def release_held(self) -> None:
        """End every request held by a `timeout` rule by closing its connection.

        Thread-safe; call it before stopping the server so shutdown does not wait.
        """
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._release.set)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            provider = _ROUTES.get(path)
            if provider is not None and scope["method"] == "POST":
                await self.provider_call(provider, scope, receive, send)
            elif path.startswith("/_sim/"):
                status, payload = await handle_admin(self, scope, await read_body(receive))
                await send_json(send, status, wire.json_bytes(payload))
            else:
                await self.not_found(path, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    def next_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):010x}"

    async def not_found(self, path: str, send: Send) -> None:
        request_id = f"req_{self.next_id()}"
        message = f"No route for {path}"
        headers: tuple[tuple[bytes, bytes], ...]
        if path.startswith("/anthropic"):
            body = wire.error_body(wire.ANTHROPIC, 404, message=message, request_id=request_id)
            headers = ((b"request-id", request_id.encode()),)
        elif path.startswith("/openai"):
            body = wire.error_body(wire.OPENAI, 404, message=message, request_id=request_id)
            headers = ((b"x-request-id", request_id.encode()),)
        else:
            body = wire.json_bytes({"error": {"type": "not_found", "message": message}})
            headers = ()
        await send_json(send, 404, body, headers)

    async def delay(self, latency_ms: LatencyMs) -> None:
        low, high = latency_ms
        if high <= 0:
            return
        ms = low if low == high else self._random.uniform(low, high)
        await asyncio.sleep(ms / 1000)

    async def provider_call(
        self, provider: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        body = await read_body(receive)
        task = message_id = None
        for name, value in scope["headers"]:
            if name == b"x-keel-task":
                task = value.decode("latin-1")
            elif name == b"x-keel-message-id":
                message_id = value.decode("latin-1")
        request_id = f"req_{self.next_id()}"
        id_header = (wire.request_id_header(provider), request_id.encode())

        async def fail(status: int, message: str | None, retry_after: float | None) -> None:
            headers = [id_header]
            if retry_after is not None:
                seconds = int(retry_after) if retry_after == int(retry_after) else retry_after
                headers.append((b"retry-after", str(seconds).encode()))
            error = wire.error_body(provider, status, message=message, request_id=request_id)
            await send_json(send, status, error, tuple(headers))

        try:
            call = wire.parse_call(provider, body, task=task, message_id=message_id)
        except wire.BadRequest as exc:
            self.stats.record(provider=provider, model="?", task=task or "?", status=400)
            await fail(400, str(exc), None)
            return
        record = self.stats.record
        outage = self.outages.active(provider)
        if outage is not None:
            record(provider=provider, model=call.model, task=call.task, status=outage.status)
            await fail(outage.status, outage.message, outage.retry_after)
            return
        hit = self.rules.match(call)
        rule, fires = (hit[0].rule, hit[1]) if hit else (None, False)
        latency = rule.latency_ms if rule is not None and rule.latency_ms is not None else None
        await self.delay(latency or self.latency_ms)
        if rule is not None and rule.fail is not None and fires:
            spec = rule.fail
            if spec.mode == "timeout":
                record(provider=provider, model=call.model, task=call.task, status="timeout")
                self._loop = asyncio.get_running_loop()
                held = await hold_open(receive, TIMEOUT_HOLD_S, self._release)
                if held == "released":
                    await reset_connection(receive)
                elif held == "expired":
                    await fail(504, "Upstream request timed out.", None)
            elif spec.mode == "reset":
                record(provider=provider, model=call.model, task=call.task, status="reset")
                await reset_connection(receive)
            elif spec.mode in ("malformed", "wrong_shape"):
                record(provider=provider, model=call.model, task=call.task, status=200)
                build = wire.malformed_body if spec.mode == "malformed" else wire.wrong_shape_body
                broken = build(call, response_id=self.next_id())
                await send_json(send, 200, broken, (id_header,))
            else:
                status = spec.status or 500
                record(provider=provider, model=call.model, task=call.task, status=status)
                await fail(status, spec.message, spec.retry_after)
            return
        respond = rule.respond if rule is not None else None
        text, tool_input = answer_for(call, respond)
        record(provider=provider, model=call.model, task=call.task, status=200)
        payload = wire.success_body(
            call,
            text=text,
            response_id=self.next_id(),
            tool_input=tool_input,
            cache=self.caches.use(call),
        )
        await send_json(send, 200, payload, (id_header,))
