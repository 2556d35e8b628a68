"""The reconciler never runs a step twice while it is still running (issue 13): a step
holds a lease, renewed while it waits on a model; only a dead worker's lease lapses."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.config import reset_settings
from app.db import session_scope
from app.db.models import Message
from app.lifecycle import Step
from app.pipeline import crashes
from app.pipeline.reconcile import reconcile
from app.pipeline.task import run_step
from app.policy import get_policy
from app.state import get_redis, keys
from app.state.leases import live_leases, renew_lease
from tests.helpers import always_open_policy
from tests.pipeline.test_steps import actions, new_message


@pytest.fixture
def quick_reconciler(
    monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str], tmp_path: Path
) -> str:
    path = always_open_policy(tmp_path, **{"stalled_after_s = 120": "stalled_after_s = 1"})
    keel_env["KEEL_POLICY"] = path
    monkeypatch.setenv("KEEL_POLICY", path)
    reset_settings()
    return path


def age(message_id: str, seconds: float) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    with session_scope() as session:
        session.execute(sa.update(Message).where(Message.id == message_id).values(updated_at=old))  # type: ignore[arg-type]


def test_a_started_step_holds_its_lease_until_it_finishes(keel_env: dict[str, str]) -> None:
    crashes.begin("m-1", "classify")
    assert live_leases(["m-1", "m-2"]) == {"m-1"}
    assert get_redis().ttl(keys().step_lease("m-1")) > 0  # a dead worker's lease lapses
    crashes.end("m-1", "classify")
    assert live_leases(["m-1"]) == set()
    renew_lease("m-1")  # renewing takes no lease that was not held
    assert live_leases(["m-1"]) == set()


def test_the_reconciler_leaves_a_running_step_alone_and_takes_a_dead_ones_message(
    simulator: str, quick_reconciler: str
) -> None:
    policy = get_policy()
    mid = new_message(external_id="wa-lease")
    age(mid, 60)
    crashes.begin(mid, "ingest")  # a worker is running its step
    assert reconcile(policy=policy) == 0
    assert "reconciled" not in actions(mid)
    get_redis().delete(keys().step_lease(mid))  # the worker died; its lease lapsed
    assert reconcile(policy=policy) == 1
    assert actions(mid)[-1] == "reconciled"


def test_a_step_waiting_on_a_slow_model_past_stalled_after_s_is_not_run_twice(
    simulator: str, receiver: Any, quick_reconciler: str
) -> None:
    httpx.post(
        f"{simulator}/_sim/rules", json={"when": {"task": "classify"}, "latency_ms": 3000}
    ).raise_for_status()
    policy = get_policy()
    mid = new_message(external_id="wa-slow")
    assert run_step(Step.ingest, mid).kind == "advanced"
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(run_step(Step.classify, mid).kind))
    worker.start()
    deadline = time.monotonic() + 10
    while not live_leases([mid]) and time.monotonic() < deadline:
        time.sleep(0.05)
    age(mid, 60)  # no progress for longer than stalled_after_s
    reconciled = reconcile(policy=policy)
    worker.join(30)
    assert reconciled == 0 and outcome == ["advanced"]
    assert "reconciled" not in actions(mid)
    assert actions(mid).count("model_call") == 1  # paid once
