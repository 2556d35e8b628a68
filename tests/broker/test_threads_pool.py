"""Keel's threads pool (`--pool threads`): a cold shutdown leaves running tasks behind
and the process exits at once; a warm stop still waits for them (celery/celery#10490)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from celery import concurrency

from app.broker import celery_app
from app.broker.threads import COLD_SHUTDOWN_EXIT_CODE, ThreadPool

ROOT = Path(__file__).resolve().parents[2]

# A pool running one task (it sleeps argv[2] seconds, then writes argv[3]), stopped as
# Celery's cold (or warm) shutdown stops it; prints whether the task had finished.
STOP_WITH_A_RUNNING_TASK = """
import pathlib, sys, time
from celery.worker import state
from app.broker.threads import ThreadPool

marker = pathlib.Path(sys.argv[3])

def task():
    time.sleep(float(sys.argv[2]))
    marker.write_text("done")

pool = ThreadPool(limit=2)
pool.start()
pool.apply_async(task)
time.sleep(0.2)  # (the task is running; nothing depends on how far it got)
pool.terminate_job(None)  # what cancelling a running request asks of the pool
state.should_terminate = sys.argv[1] == "cold" or None
pool.stop()
print("stopped", "finished" if marker.exists() else "running", flush=True)
"""


def _stop(kind: str, *, task_s: float, marker: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", STOP_WITH_A_RUNNING_TASK, kind, str(task_s), str(marker)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_threads_alias_is_keels_pool_once_the_celery_app_is_loaded() -> None:
    assert celery_app.main == "keel"
    assert concurrency.get_implementation("threads") is ThreadPool


def test_a_cold_shutdown_stops_the_pool_and_exits_without_waiting_for_running_tasks(
    tmp_path: Path,
) -> None:
    # (a task of ten minutes: the process is gone long before it could end)
    result = _stop("cold", task_s=600, marker=tmp_path / "done")
    assert "stopped running" in result.stdout, result.stderr
    assert result.returncode == COLD_SHUTDOWN_EXIT_CODE
    assert not (tmp_path / "done").exists()


def test_a_warm_stop_waits_for_the_running_task(tmp_path: Path) -> None:
    result = _stop("warm", task_s=2, marker=tmp_path / "done")
    assert "stopped finished" in result.stdout, result.stderr
    assert result.returncode == 0
