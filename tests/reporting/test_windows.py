"""`--since` parsing and the time between steps (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.reporting import parse_since
from app.reporting.latency import spans_s

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def test_since_takes_a_span_back_from_now_or_an_iso_time() -> None:
    assert parse_since("24h", now=NOW) == NOW - dt.timedelta(hours=24)
    assert parse_since("90m", now=NOW) == NOW - dt.timedelta(minutes=90)
    assert parse_since("7d", now=NOW) == NOW - dt.timedelta(days=7)
    assert parse_since("2026-11-27T03:00:00Z", now=NOW) == dt.datetime(
        2026, 11, 27, 3, tzinfo=dt.UTC
    )
    assert parse_since("2026-11-27", now=NOW) == dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def test_since_refuses_anything_else() -> None:
    with pytest.raises(ValueError, match="24h"):
        parse_since("yesterday", now=NOW)


def _at(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


def test_step_spans_use_the_first_event_of_each_step_per_message() -> None:
    rows = [
        ("a", "received", _at(0)),
        ("a", "classified", _at(2)),
        ("a", "drafted", _at(5)),
        ("a", "sent", _at(6)),
        ("a", "sent", _at(60)),  # a later duplicate is ignored
        ("b", "received", _at(10)),
        ("b", "classified", _at(11)),
        ("b", "no_reply", _at(11.5)),
        ("c", "classified", _at(20)),  # received before the window: no received-> spans
        ("c", "drafted", _at(23)),
    ]
    spans = spans_s(rows)
    assert spans["received->classified"] == [2.0, 1.0]
    assert spans["classified->drafted"] == [3.0, 3.0]
    assert spans["drafted->sent"] == [1.0]
    assert spans["received->settled"] == [6.0, 1.5]
