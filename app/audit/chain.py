"""The hash of one audit event over its content and its predecessor's hash.

Plain SHA-256 without KEEL_AUDIT_KEY; with it, HMAC-SHA256 keyed by it, so someone
with only database access cannot recompute a chain. Each row names its scheme
(`hash_scheme`): "sha256", or "hmac-sha256:<key id>", the key id being a short HMAC of
a constant that tells keys apart without revealing them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from functools import lru_cache
from typing import Any

from app.config import get_settings

PLAIN = "sha256"
KEYED = "hmac-sha256"
# An event's columns besides its id, message and scheme, as every revision since 0001
# has them; readers and writers of whole events name their columns from this.
EVENT_COLUMNS = ("seq", "at", "trace_id", "actor", "action", "step", "detail", "prev_hash", "hash")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def to_json_safe(detail: dict[str, Any]) -> dict[str, Any]:
    """A detail dict as plain JSON types (Decimals and datetimes become strings)."""
    result: dict[str, Any] = json.loads(json.dumps(detail, default=_default))
    return result


def audit_key() -> str | None:
    """KEEL_AUDIT_KEY, or None: chains are then plain SHA-256."""
    return get_settings().keel_audit_key


@lru_cache(maxsize=8)
def keyed_scheme(key: str) -> str:
    """`hmac-sha256:<key id>` for `key`: which key made a row, without revealing it."""
    key_id = hmac.new(key.encode("utf-8"), b"keel.audit.key-id", hashlib.sha256).hexdigest()
    return f"{KEYED}:{key_id[:8]}"


def scheme_for(key: str | None) -> str:
    """The `hash_scheme` of rows hashed with `key` (None: plain SHA-256)."""
    return PLAIN if key is None else keyed_scheme(key)


def digest(body: bytes, key: str | None) -> str:
    """SHA-256 of `body`, or its HMAC-SHA256 with `key`, as hex."""
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def event_body(
    *,
    message_id: str | None,
    seq: int,
    at: dt.datetime,
    trace_id: str | None,
    actor: str,
    action: str,
    step: str | None,
    detail: dict[str, Any],
    prev_hash: str | None,
) -> bytes:
    """The canonical bytes an event's hash covers (unchanged since the first chain)."""
    at_utc = at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)
    body = json.dumps(
        {
            "message_id": message_id,
            "seq": seq,
            "at": at_utc.isoformat(timespec="microseconds"),
            "trace_id": trace_id,
            "actor": actor,
            "action": action,
            "step": step,
            "detail": detail,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_default,
    )
    return body.encode("utf-8")


def event_hash(
    *,
    message_id: str | None,
    seq: int,
    at: dt.datetime,
    trace_id: str | None,
    actor: str,
    action: str,
    step: str | None,
    detail: dict[str, Any],
    prev_hash: str | None,
    key: str | None = None,
) -> str:
    """The event's hash: SHA-256 of its canonical body, or HMAC-SHA256 with `key`."""
    body = event_body(
        message_id=message_id,
        seq=seq,
        at=at,
        trace_id=trace_id,
        actor=actor,
        action=action,
        step=step,
        detail=detail,
        prev_hash=prev_hash,
    )
    return digest(body, key)


def stored_body(event: Any) -> bytes:
    """The canonical body of a stored event (a row or an `AuditEvent`)."""
    return event_body(
        message_id=event.message_id,
        seq=event.seq,
        at=event.at,
        trace_id=event.trace_id,
        actor=event.actor,
        action=event.action,
        step=event.step,
        detail=event.detail,
        prev_hash=event.prev_hash,
    )
