"""The webhook signature covers the time, the Idempotency-Key and the body, so a receiver
can refuse a stale POST, a replay under a fresh key, and a tampered one."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.delivery.webhook import post_reply, sign
from app.demo.receiver import MAX_SIGNATURE_AGE_S, verify_signature

SECRET = "whsec-test-5c1e"
BODY = b'{"message_id":"m-1","text":"Hola"}'
KEY = "keel-7d0c5a38-1b6e-4c39-9a8f-2f1e0c4d5b6a"


def hmac_hex(message: bytes) -> str:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def test_v1_is_the_hmac_of_time_key_and_body_joined_by_dots() -> None:
    # Given a fixed time, key and body
    t = 1_767_225_600
    # When Keel signs them
    header = sign(SECRET, BODY, key=KEY, timestamp=t)
    # Then the header is t=<t>,v1=<hex HMAC-SHA256 of "t.key.body">, as the README says
    assert header == f"t={t},v1={hmac_hex(f'{t}.{KEY}.'.encode() + BODY)}"
    assert header != f"t={t},v1={hmac_hex(f'{t}.'.encode() + BODY)}"  # the old, keyless one


def test_a_receiver_accepts_a_fresh_signature_for_the_same_key_and_body() -> None:
    now = time.time()
    header = sign(SECRET, BODY, key=KEY, timestamp=int(now))
    assert verify_signature(SECRET, header, BODY, key=KEY, now=now)


@pytest.mark.parametrize(
    "change",
    ["another key", "no key", "another body", "another secret", "stale", "from the future"],
)
def test_a_receiver_refuses_a_signature_that_does_not_fit(change: str) -> None:
    now = time.time()
    t = int(now)
    secret, body, key = SECRET, BODY, KEY
    if change == "another key":
        key = "keel-00000000-0000-4000-8000-000000000000"  # a replay under a fresh key
    elif change == "no key":
        key = ""
    elif change == "another body":
        body = BODY.replace(b"Hola", b"Adios")
    elif change == "another secret":
        secret = "guessed"
    elif change == "stale":
        t = int(now - MAX_SIGNATURE_AGE_S - 1)
    elif change == "from the future":
        t = int(now + MAX_SIGNATURE_AGE_S + 1)
    header = sign(secret, BODY, key=KEY, timestamp=t)
    assert not verify_signature(SECRET, header, body, key=key, now=now)


def test_stale_means_older_than_five_minutes() -> None:
    assert MAX_SIGNATURE_AGE_S == 300
    now = time.time()
    header = sign(SECRET, BODY, key=KEY, timestamp=int(now) - 299)
    assert verify_signature(SECRET, header, BODY, key=KEY, now=now)


@dataclass
class Captured:
    headers: dict[str, str]
    raw: bytes


@pytest.fixture
def capture() -> Iterator[tuple[str, list[Captured]]]:
    """An endpoint that keeps each POST's headers and raw bytes and answers 200."""
    seen: list[Captured] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(Captured(headers={k.lower(): v for k, v in self.headers.items()}, raw=raw))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", seen
    server.shutdown()
    server.server_close()


def test_a_posted_reply_is_signed_over_its_idempotency_key_and_exact_bytes(
    capture: tuple[str, list[Captured]],
) -> None:
    url, seen = capture
    # When Keel POSTs a reply
    status = post_reply(url=url, secret=SECRET, payload={"text": "¡Hola!"}, key=KEY, timeout_s=5)
    # Then the receiver can check it with nothing but the secret and what it received
    assert status == 200
    (post,) = seen
    assert post.headers["idempotency-key"] == KEY
    parts = dict(p.split("=", 1) for p in post.headers["x-keel-signature"].split(","))
    assert abs(int(parts["t"]) - time.time()) < 60
    expected = hmac_hex(f"{parts['t']}.{KEY}.".encode() + post.raw)
    assert hmac.compare_digest(parts["v1"], expected)
    assert verify_signature(SECRET, post.headers["x-keel-signature"], post.raw, key=KEY)
