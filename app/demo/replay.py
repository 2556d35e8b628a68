"""Replaying a captured inbox as if it were arriving now: the sample's `received_at`
times (spread over days when it was captured) are mapped, in order, onto the last
`span`, so replies fall inside each channel's reply window (WhatsApp: 24 hours) the way
they would have when the messages were new."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

REPLAY_SPAN = dt.timedelta(hours=2)


def as_of_now(
    rows: Sequence[dict[str, Any]], *, now: dt.datetime, span: dt.timedelta = REPLAY_SPAN
) -> list[dict[str, Any]]:
    """The rows with `received_at` moved into `[now - span, now]`, keeping their order."""
    times = [dt.datetime.fromisoformat(str(r["received_at"])) for r in rows if r.get("received_at")]
    if not times:
        return [dict(r) for r in rows]
    first, last = min(times), max(times)
    width = (last - first).total_seconds() or 1.0
    moved = []
    for row in rows:
        copy = dict(row)
        if row.get("received_at"):
            at = dt.datetime.fromisoformat(str(row["received_at"]))
            back = span * ((last - at).total_seconds() / width)
            copy["received_at"] = (now - back).isoformat()
        moved.append(copy)
    return moved
