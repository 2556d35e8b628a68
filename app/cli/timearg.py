"""`--since` / `--before` values: ISO 8601 (`2026-11-27T03:00Z`) or an age (`90s`, `15m`,
`2h`, `7d`) counted back from now."""

from __future__ import annotations

import datetime as dt
import re

import typer

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_time(value: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """Raises: typer.BadParameter (exit code 2) for anything else."""
    now = now or dt.datetime.now(dt.UTC)
    match = _AGE.match(value)
    if match:
        return now - dt.timedelta(seconds=float(match.group(1)) * _UNITS_S[match.group(2)])
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is neither ISO 8601 nor an age like 2h") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def optional_time(value: str | None) -> dt.datetime | None:
    return parse_time(value) if value else None
