"""A local webhook receiver that verifies signatures and records every POST."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ReceivedPost:
    idempotency_key: str | None
    signature_ok: bool
    body: dict[str, Any]
    status: int


def verify_signature(secret: str, header: str | None, body: bytes) -> bool:
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp, given = parts.get("t"), parts.get("v1")
    if not timestamp or not given:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
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
                        receiver.secret, self.headers.get("X-Keel-Signature"), raw
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
