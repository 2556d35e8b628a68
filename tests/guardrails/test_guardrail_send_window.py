"""The send window: local wall-clock hours in the contact's zone, across DST and midnight."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.guardrails import blocked, send_window_verdict
from app.policy import Policy, SendWindow, load_policy

POLICY = load_policy()  # 08:00-21:00, default zone Europe/Madrid
UTC = dt.UTC


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def with_window(start: str, end: str) -> Policy:
    window = SendWindow(start=dt.time.fromisoformat(start), end=dt.time.fromisoformat(end))
    guardrails = POLICY.guardrails.model_copy(update={"send_window": window})
    return POLICY.model_copy(update={"guardrails": guardrails})


def test_a_moment_inside_the_window_passes_with_no_next_opening() -> None:
    # 12:00 CEST
    verdict, opens = send_window_verdict(
        utc("2026-06-15T10:00"), contact_timezone="Europe/Madrid", policy=POLICY
    )

    assert verdict.passed
    assert verdict.check == "send_window"
    assert opens is None


def test_a_moment_outside_the_window_fails_without_blocking_and_says_when_it_opens() -> None:
    # 22:30 CEST
    verdict, opens = send_window_verdict(
        utc("2026-06-15T20:30"), contact_timezone="Europe/Madrid", policy=POLICY
    )

    assert not verdict.passed
    assert verdict.reason == "outside_send_window"
    assert blocked([verdict]) == []
    assert opens == utc("2026-06-16T06:00")
    assert opens is not None and opens.tzinfo is UTC
    assert verdict.detail["next_open"] == "2026-06-16T06:00:00+00:00"
    assert verdict.detail["timezone"] == "Europe/Madrid"


CASES = [
    # zone, window, now (UTC), next opening (UTC) or None when open
    # Madrid, spring forward 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC)
    ("Europe/Madrid", ("08:00", "21:00"), "2026-03-28T21:00", "2026-03-29T06:00"),
    ("Europe/Madrid", ("08:00", "21:00"), "2026-03-29T05:59:59", "2026-03-29T06:00"),
    ("Europe/Madrid", ("08:00", "21:00"), "2026-03-29T06:00", None),
    ("Europe/Madrid", ("08:00", "21:00"), "2026-03-29T18:59", None),
    ("Europe/Madrid", ("08:00", "21:00"), "2026-03-29T19:00", "2026-03-30T06:00"),
    # ... a window starting inside the skipped hour opens when the clocks jump
    ("Europe/Madrid", ("02:30", "05:00"), "2026-03-28T23:00", "2026-03-29T01:00"),
    ("Europe/Madrid", ("02:30", "05:00"), "2026-03-29T00:59:59", "2026-03-29T01:00"),
    ("Europe/Madrid", ("02:30", "05:00"), "2026-03-29T01:00", None),
    # ... and one wholly inside the skipped hour does not open that day
    ("Europe/Madrid", ("02:15", "02:45"), "2026-03-28T23:00", "2026-03-30T00:15"),
    # Madrid, fall back 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC)
    ("Europe/Madrid", ("08:00", "21:00"), "2026-10-24T20:00", "2026-10-25T07:00"),
    ("Europe/Madrid", ("08:00", "21:00"), "2026-10-25T19:59", None),
    ("Europe/Madrid", ("08:00", "21:00"), "2026-10-25T20:00", "2026-10-26T07:00"),
    # ... a window inside the repeated hour opens on both passes
    ("Europe/Madrid", ("02:30", "02:45"), "2026-10-24T22:00", "2026-10-25T00:30"),
    ("Europe/Madrid", ("02:30", "02:45"), "2026-10-25T00:50", "2026-10-25T01:30"),
    # ... and clocks set back into a window open it at the jump
    ("Europe/Madrid", ("08:00", "02:30"), "2026-10-25T00:40", "2026-10-25T01:00"),
    # New York, spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC)
    ("America/New_York", ("08:00", "21:00"), "2026-03-08T02:00", "2026-03-08T12:00"),
    ("America/New_York", ("08:00", "21:00"), "2026-03-08T12:00", None),
    ("America/New_York", ("02:30", "04:00"), "2026-03-08T05:00", "2026-03-08T07:00"),
    # New York, fall back 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC)
    ("America/New_York", ("08:00", "21:00"), "2026-11-01T02:00", "2026-11-01T13:00"),
    ("America/New_York", ("08:00", "21:00"), "2026-11-01T12:59", "2026-11-01T13:00"),
    ("America/New_York", ("01:30", "01:45"), "2026-11-01T05:50", "2026-11-01T06:30"),
    # Sao Paulo: UTC-3 all year, no DST since 2019
    ("America/Sao_Paulo", ("08:00", "21:00"), "2026-11-01T10:59", "2026-11-01T11:00"),
    ("America/Sao_Paulo", ("08:00", "21:00"), "2026-11-01T11:00", None),
    ("America/Sao_Paulo", ("08:00", "21:00"), "2026-02-15T23:59", None),
    ("America/Sao_Paulo", ("08:00", "21:00"), "2026-02-16T00:00", "2026-02-16T11:00"),
    # A window across midnight, 22:00-06:00 (Madrid in winter is UTC+1)
    ("Europe/Madrid", ("22:00", "06:00"), "2026-01-15T22:30", None),
    ("Europe/Madrid", ("22:00", "06:00"), "2026-01-15T04:59", None),
    ("Europe/Madrid", ("22:00", "06:00"), "2026-01-15T05:00", "2026-01-15T21:00"),
    ("Europe/Madrid", ("22:00", "06:00"), "2026-01-15T11:00", "2026-01-15T21:00"),
    ("Europe/Madrid", ("22:00", "06:00"), "2026-03-29T01:30", None),
    ("America/New_York", ("22:00", "06:00"), "2026-11-01T10:59", None),
    ("America/New_York", ("22:00", "06:00"), "2026-11-01T11:00", "2026-11-02T03:00"),
]


@pytest.mark.parametrize(("zone", "window", "now", "opens"), CASES)
def test_the_window_is_read_on_the_local_wall_clock_across_dst_and_midnight(
    zone: str, window: tuple[str, str], now: str, opens: str | None
) -> None:
    verdict, next_open = send_window_verdict(
        utc(now), contact_timezone=zone, policy=with_window(*window)
    )

    assert verdict.passed is (opens is None)
    assert next_open == (None if opens is None else utc(opens))


def test_a_window_whose_start_equals_its_end_is_always_open() -> None:
    policy = with_window("09:00", "09:00")

    for hour in range(24):
        verdict, opens = send_window_verdict(
            utc(f"2026-03-29T{hour:02d}:17"), contact_timezone="Europe/Madrid", policy=policy
        )
        assert verdict.passed and opens is None


@pytest.mark.parametrize("zone", [None, "Mars/Olympus_Mons", "Europe", "", "../etc/passwd"])
def test_an_unknown_or_missing_timezone_falls_back_to_the_business_default(
    zone: str | None,
) -> None:
    # 06:30 UTC is 07:30 in Madrid: closed until 08:00 there
    verdict, opens = send_window_verdict(
        utc("2026-01-15T06:30"), contact_timezone=zone, policy=POLICY
    )

    assert not verdict.passed
    assert opens == utc("2026-01-15T07:00")
    assert verdict.detail["timezone"] == "Europe/Madrid"
    assert verdict.detail["timezone_fallback"] is True


def test_the_contact_timezone_wins_over_the_default_when_it_is_known() -> None:
    verdict, opens = send_window_verdict(
        utc("2026-01-15T06:30"), contact_timezone="Asia/Tokyo", policy=POLICY
    )

    assert verdict.passed  # 15:30 in Tokyo
    assert verdict.detail["timezone_fallback"] is False
    assert opens is None


def test_now_in_any_aware_zone_is_the_same_instant_and_the_answer_is_in_utc() -> None:
    now = dt.datetime(2026, 1, 15, 23, 30, tzinfo=ZoneInfo("America/Bogota"))  # 04:30 UTC

    _, opens = send_window_verdict(now, contact_timezone="Europe/Madrid", policy=POLICY)

    assert opens == utc("2026-01-16T07:00")
    assert opens is not None and opens.utcoffset() == dt.timedelta(0)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        send_window_verdict(dt.datetime(2026, 1, 15, 12), contact_timezone=None, policy=POLICY)


# ---------------------------------------------------------------- property


ZONES = [
    "Europe/Madrid",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Santiago",  # DST changes at midnight: local 00:00 is skipped
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "UTC",
]
DST_DAYS_UTC = [
    utc(d)
    for d in (
        "2026-03-29T01:00",
        "2026-10-25T01:00",
        "2026-03-08T07:00",
        "2026-11-01T06:00",
        "2026-04-05T03:00",
        "2026-09-06T04:00",
        "2026-04-04T15:00",
        "2026-10-03T16:00",
    )
]
TIMES = [dt.time(h, m) for h in (0, 1, 2, 3, 6, 8, 12, 21, 22, 23) for m in (0, 15, 30, 45)]
instants = st.one_of(
    st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 28)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    st.builds(
        lambda day, s: day + dt.timedelta(seconds=s),
        st.sampled_from(DST_DAYS_UTC),
        st.integers(min_value=-36 * 3600, max_value=36 * 3600),
    ),
)


def wall_clock_open(instant: dt.datetime, zone: ZoneInfo, start: dt.time, end: dt.time) -> bool:
    wall = instant.astimezone(zone).time()
    if start == end:
        return True
    return start <= wall < end if start < end else (wall >= start or wall < end)


@given(st.sampled_from(ZONES), st.sampled_from(TIMES), st.sampled_from(TIMES), instants)
def test_the_next_opening_is_the_first_later_minute_the_wall_clock_is_in_the_window(
    zone_name: str, start: dt.time, end: dt.time, now: dt.datetime
) -> None:
    zone = ZoneInfo(zone_name)
    policy = with_window(start.isoformat(), end.isoformat())

    verdict, opens = send_window_verdict(now, contact_timezone=zone_name, policy=policy)

    assert verdict.passed is wall_clock_open(now, zone, start, end)
    if verdict.passed:
        assert opens is None
        return
    # Every offset and window edge is a whole minute, so scanning minutes finds the opening.
    minute = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while not wall_clock_open(minute, zone, start, end):
        minute += dt.timedelta(minutes=1)
    assert opens == minute
