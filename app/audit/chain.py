"""The hash of one audit event over its content and its predecessor's hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any


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
) -> str:
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
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def verify_chain(events: Sequence[Any]) -> int | None:
    """The seq of the first broken event in one message's ordered events, or None."""
    prev: str | None = None
    for expected_seq, event in enumerate(events, start=1):
        recomputed = event_hash(
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
        if event.seq != expected_seq or event.prev_hash != prev or event.hash != recomputed:
            return int(event.seq)
        prev = event.hash
    return None
