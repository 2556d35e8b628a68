"""Sentry Crons on real processes: beat's whole-minute heartbeat checks in `in_progress`
as beat sends it and `ok` as a worker finishes it, under the entry's slug, so a dead
beat is a missed check-in; the sub-minute entries Crons cannot watch send nothing."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.schedules import crontab

from app.demo import procs
from app.observability.sentry import crons_excluded
from tests.helpers import poll
from tests.observability.sentry_receiver import SentryReceiver

HEARTBEAT = "keel-heartbeat"
# crontab every minute: the first tick is at the next whole minute after beat starts.
FIRST_TICK_DEADLINE_S = 60 + 45


@pytest.fixture
def sentry() -> Iterator[SentryReceiver]:
    receiver = SentryReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def beat_and_worker(
    keel_env: dict[str, str], sentry: SentryReceiver, tmp_path: Path
) -> Iterator[procs.Processes]:
    """A worker and beat with Sentry pointed at the receiver."""
    env = {**os.environ, **keel_env, "SENTRY_DSN": sentry.dsn, "SENTRY_ENVIRONMENT": "test"}
    group = procs.Processes(tmp_path)
    try:
        group.start("worker", procs.worker_argv(concurrency=1, name="crons"), env)
        group.start("beat", procs.beat_argv(tmp_path / "beat-schedule"), env)
        yield group
    finally:
        group.stop_all()
        for log in tmp_path.glob("*.log"):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-4000:]}")


def test_the_heartbeat_is_the_one_beat_entry_crons_can_watch() -> None:
    import celeryconfig

    schedule = celeryconfig.beat_schedule
    excluded = crons_excluded(schedule)
    watched = [name for name in schedule if not any(re.match(p, name) for p in excluded)]

    assert watched == [HEARTBEAT]
    entry = schedule[HEARTBEAT]
    assert entry["task"] == "keel.heartbeat"
    assert entry["schedule"] == crontab()  # every minute, on the minute


@pytest.mark.slow
def test_beat_and_a_worker_check_in_the_heartbeat_with_its_slug(
    beat_and_worker: procs.Processes, sentry: SentryReceiver
) -> None:
    # Given beat and a worker running with Sentry on
    # When the heartbeat's minute comes, beat sends it and the worker runs it
    def heartbeat_done() -> dict[str, list[dict[str, Any]]] | None:
        by_id: dict[str, list[dict[str, Any]]] = {}
        for item in sentry.items("check_in"):
            by_id.setdefault(item["check_in_id"], []).append(item)
        done = {k: v for k, v in by_id.items() if {c["status"] for c in v} >= {"ok"}}
        return done or None

    done = poll(heartbeat_done, FIRST_TICK_DEADLINE_S)

    # Then Sentry got `in_progress` then `ok` for one check-in of the heartbeat's monitor
    check_ins = sentry.items("check_in")
    assert done, f"no completed heartbeat check-in; got {check_ins}"
    pair = next(iter(done.values()))
    assert [c["status"] for c in pair] == ["in_progress", "ok"], pair
    assert {c["monitor_slug"] for c in pair} == {HEARTBEAT}
    assert {c.get("environment") for c in pair} == {"test"}
    config = pair[0]["monitor_config"]
    assert config["schedule"] == {"type": "crontab", "value": "* * * * *"}
    assert config["timezone"] == "UTC"
    # And the sub-minute entries, which Crons would ignore, checked in nothing
    assert {c["monitor_slug"] for c in check_ins} == {HEARTBEAT}
