"""A local webhook receiver that verifies signatures and records every POST."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Receivers should refuse a signature whose `t` is older than this (README).
MAX_SIGNATURE_AGE_S = 300.0


@dataclass
class ReceivedPost:
    idempotency_key: str | None
    signature_ok: bool
    body: dict[str, Any]
    status: int


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    key: str | None,
    now: float | None = None,
    max_age_s: float = MAX_SIGNATURE_AGE_S,
) -> bool:
    """Whether `X-Keel-Signature` is `v1` = HMAC-SHA256 of `t.key.body` with a `t` no
    older than `max_age_s` (nor as far in the future), as a receiver should check it."""
    if not header or not key:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp, given = parts.get("t"), parts.get("v1")
    if not timestamp or not given or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > max_age_s:
        return False
    signed = f"{timestamp}.{key}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), given)


@dataclass
class WebhookReceiver:
    """Records POSTs; `status_for` lets a test answer 400/500 to some of them."""

    secret: str
    posts: list[ReceivedPost] = field(default_factory=list)
    answer_status: int = 200
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint would
            disable_nagle_algorithm = True  # else a 40 ms delayed ACK per reply

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_unparseable": raw.decode("utf-8", "replace")}
                status = receiver.answer_status
                post = ReceivedPost(
                    idempotency_key=self.headers.get("Idempotency-Key"),
                    signature_ok=verify_signature(
                        receiver.secret,
                        self.headers.get("X-Keel-Signature"),
                        raw,
                        key=self.headers.get("Idempotency-Key"),
                    ),
                    body=body,
                    status=status,
                )
                with receiver._lock:
                    receiver.posts.append(post)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def accepted(self) -> list[ReceivedPost]:
        with self._lock:
            return [p for p in self.posts if 200 <= p.status < 300]
