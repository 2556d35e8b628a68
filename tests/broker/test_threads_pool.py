"""Keel's threads pool (`--pool threads`): a cold shutdown leaves running tasks behind
and the process exits at once; a warm stop still waits for them (celery/celery#10490)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from celery import concurrency

from app.broker import celery_app
from app.broker.threads import COLD_SHUTDOWN_EXIT_CODE, ThreadPool

ROOT = Path(__file__).resolve().parents[2]

# A pool running a 30 s task, stopped as Celery's cold (or warm) shutdown stops it.
STOP_WITH_A_RUNNING_TASK = """
import sys, time
from celery.worker import state
from app.broker.threads import ThreadPool

pool = ThreadPool(limit=2)
pool.start()
pool.apply_async(time.sleep, (30,))
pool.terminate_job(None)  # what cancelling a running request asks of the pool
state.should_terminate = sys.argv[1] == "cold" or None
pool.stop()
print("stopped", flush=True)
"""


def _stop(kind: str, *, timeout_s: float) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", STOP_WITH_A_RUNNING_TASK, kind],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    return result, time.monotonic() - started


def test_the_threads_alias_is_keels_pool_once_the_celery_app_is_loaded() -> None:
    assert celery_app.main == "keel"
    assert concurrency.get_implementation("threads") is ThreadPool


def test_a_cold_shutdown_stops_the_pool_and_exits_without_waiting_for_running_tasks() -> None:
    result, seconds = _stop("cold", timeout_s=25)
    assert "stopped" in result.stdout, result.stderr
    assert result.returncode == COLD_SHUTDOWN_EXIT_CODE
    assert seconds < 20


def test_a_warm_stop_waits_for_the_running_task() -> None:
    # (cut short: a stop that does not return within 3 s is waiting, as it should)
    try:
        _stop("warm", timeout_s=3)
    except subprocess.TimeoutExpired:
        return
    raise AssertionError("a warm stop returned while a task was still running")
