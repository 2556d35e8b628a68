"""Whether a reply may be sent now in the contact's local time, and when it may if not.

The window is a range of local wall-clock times (`08:00-21:00`, or `22:00-06:00`
across midnight; `start == end` is always open). A moment is inside when the
contact's wall clock reads a time in `[start, end)`. The next opening is the first
later instant where the wall clock enters the window: usually `start` (its first
occurrence on a fall-back day), or the daylight-saving jump itself when `start`
falls in the skipped hour, or when the clock is set back into the window.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "send_window"
_UTC = dt.UTC
_TICK = dt.timedelta(microseconds=1)
_SCAN_STEP = dt.timedelta(hours=6)  # offset changes are much further apart than this
_SCAN_DAYS = 3  # a window with start != end opens at least once in any two local days


def send_window_verdict(
    now: dt.datetime, *, contact_timezone: str | None, policy: Policy
) -> tuple[Verdict, dt.datetime | None]:
    """`(passing verdict, None)` inside the window, else a non-blocking failure and the next
    opening (aware UTC), in the contact's zone or the business default when it is unknown.

    Raises:
        ValueError: `now` is naive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(_UTC)
    window = policy.guardrails.send_window
    start = window.start.replace(tzinfo=None)
    end = window.end.replace(tzinfo=None)
    contact_zone = _zone(contact_timezone) if contact_timezone else None
    zone = contact_zone or _zone(policy.business.default_timezone) or ZoneInfo("UTC")
    detail: dict[str, object] = {
        "timezone": zone.key,
        "timezone_fallback": contact_zone is None,
        "local_time": now.astimezone(zone).isoformat(),
        "window": f"{start:%H:%M}-{end:%H:%M}",
    }
    if is_open(now, zone=zone, start=start, end=end):
        return Verdict(check=CHECK, passed=True, detail=detail, blocking=False), None
    opens = next_opening(now, zone=zone, start=start, end=end)
    detail["next_open"] = opens.isoformat()
    verdict = Verdict(
        check=CHECK, passed=False, reason="outside_send_window", detail=detail, blocking=False
    )
    return verdict, opens


def is_open(instant: dt.datetime, *, zone: ZoneInfo, start: dt.time, end: dt.time) -> bool:
    """Whether the wall clock in `zone` reads a time in `[start, end)` at `instant`."""
    if start == end:
        return True
    wall = instant.astimezone(zone).time()
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def next_opening(now: dt.datetime, *, zone: ZoneInfo, start: dt.time, end: dt.time) -> dt.datetime:
    """The first instant after `now` (aware UTC) at which the window goes from closed to open."""
    today = now.astimezone(zone).date()
    candidates: list[dt.datetime] = []
    for days in range(_SCAN_DAYS):
        wall = dt.datetime.combine(today + dt.timedelta(days=days), start, tzinfo=zone)
        candidates += [wall.replace(fold=0).astimezone(_UTC), wall.replace(fold=1).astimezone(_UTC)]
    candidates += _offset_changes(now, zone=zone, until=now + dt.timedelta(days=_SCAN_DAYS))
    openings = [
        c
        for c in candidates
        if c > now
        and is_open(c, zone=zone, start=start, end=end)
        and not is_open(c - _TICK, zone=zone, start=start, end=end)
    ]
    return min(openings)


def _offset_changes(since: dt.datetime, *, zone: ZoneInfo, until: dt.datetime) -> list[dt.datetime]:
    """Instants (UTC, to the second) in `(since, until]` where `zone` changes its UTC offset."""
    changes: list[dt.datetime] = []
    lo = since
    while lo < until:
        hi = lo + _SCAN_STEP
        if lo.astimezone(zone).utcoffset() != hi.astimezone(zone).utcoffset():
            changes.append(_first_with_offset_of(hi, after=lo, zone=zone))
        lo = hi
    return changes


def _first_with_offset_of(hi: dt.datetime, *, after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Bisect `(after, hi]` for the first whole second already on `hi`'s offset."""
    target = hi.astimezone(zone).utcoffset()
    lo_s, hi_s = int(after.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if dt.datetime.fromtimestamp(mid, _UTC).astimezone(zone).utcoffset() == target:
            hi_s = mid
        else:
            lo_s = mid
    return dt.datetime.fromtimestamp(hi_s, _UTC)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    """The IANA zone called `name`, or None when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
