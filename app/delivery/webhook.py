"""POSTing a reply to the business's webhook, signed, with a stable Idempotency-Key.

`X-Keel-Signature: t=<unix seconds>,v1=<hex>`, where `v1` is the HMAC-SHA256, keyed with
KEEL_WEBHOOK_SECRET, of `t`, a dot, the Idempotency-Key, a dot and the raw body. Covering
the key means a captured POST cannot be replayed under a fresh key to slip past the
receiver's de-duplication; covering `t` lets the receiver refuse stale ones (README).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any

import httpx

from app.errors import DeliveryRejected, DeliveryRetryable

_clients: dict[int, httpx.Client] = {}


def idempotency_key(message_id: str) -> str:
    """The same key for every delivery attempt of one message."""
    return f"keel-{message_id}"


def signed_bytes(*, timestamp: int, key: str, body: bytes) -> bytes:
    """What `v1` is the HMAC of: `t.key.body`."""
    return f"{timestamp}.{key}.".encode() + body


def sign(secret: str, body: bytes, *, key: str, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "t.key.body">`."""
    message = signed_bytes(timestamp=timestamp, key=key, body=body)
    mac = hmac.new(secret.encode(), message, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _client(timeout_s: float) -> httpx.Client:
    client = _clients.get(os.getpid())
    if client is None:
        client = _clients[os.getpid()] = httpx.Client(timeout=timeout_s)
    return client


def post_reply(
    *, url: str, secret: str | None, payload: dict[str, Any], key: str, timeout_s: float
) -> int:
    """POST one reply; returns the 2xx status.

    Raises:
        DeliveryRetryable: 5xx, 429, timeout or connection error.
        DeliveryRejected: any other non-2xx answer.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    if secret:
        headers["X-Keel-Signature"] = sign(secret, body, key=key, timestamp=int(time.time()))
    try:
        response = _client(timeout_s).post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise DeliveryRetryable("webhook timed out") from exc
    except httpx.TransportError as exc:
        raise DeliveryRetryable(f"webhook unreachable: {type(exc).__name__}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return status
    if status == 429 or status >= 500:
        retry_after = response.headers.get("retry-after")
        hint = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise DeliveryRetryable(f"webhook answered {status}", retry_after_s=hint)
    raise DeliveryRejected(f"webhook answered {status}")
