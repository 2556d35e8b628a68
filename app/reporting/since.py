"""Parsing `--since`: an ISO 8601 time or a span back from now (`90m`, `24h`, `7d`)."""

from __future__ import annotations

import datetime as dt
import re

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(value: str, *, now: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive ISO time is taken as UTC.

    Raises:
        ValueError: neither a span nor an ISO 8601 time.
    """
    text = value.strip()
    span = _SPAN.match(text.lower())
    if span:
        return now - dt.timedelta(seconds=float(span.group(1)) * _UNIT_S[span.group(2)])
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"expected an ISO 8601 time or a span like 24h, got {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
