"""Sentry's set-up decisions, without a Sentry server."""

from __future__ import annotations

import datetime as dt

import pytest
from celery.schedules import crontab, schedule

from app.config import reset_settings
from app.observability.sentry import crons_excluded, current_trace_id, init_sentry


def test_beat_entries_crons_cannot_monitor_are_left_out() -> None:
    beat = {
        "every_second": {"schedule": 1.0},
        "every_15s": {"schedule": schedule(15)},
        "every_90s": {"schedule": 90},
        "every_minute": {"schedule": 60.0},
        "every_2_min": {"schedule": dt.timedelta(minutes=2)},
        "crontab": {"schedule": crontab(minute="*/5")},
    }
    assert crons_excluded(beat) == ["^every_second$", "^every_15s$", "^every_90s$"]


def test_sentry_stays_off_without_a_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    reset_settings()
    assert init_sentry("worker") is False
    assert current_trace_id() is None
    with pytest.raises(ValueError, match="unknown component"):
        init_sentry("flower")
    reset_settings()
