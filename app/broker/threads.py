"""Celery's threads pool, made fit for the worker's cold shutdown (celery/celery#10490).

A thread cannot be stopped from outside, and Celery's threads pool does not pretend to:
it has no `terminate_job`. On a cold shutdown (SIGTERM remapped to SIGQUIT, as the
Procfile runs the worker) Celery waits up to `worker_soft_shutdown_timeout` for running
tasks, then cancels the rest; with the stock pool that raises NotImplementedError, the
worker falls back to a warm stop and waits for every running task (a 40 s model call
outlives Heroku's SIGKILL at 30 s). Here cancelling is a no-op (the message, acknowledged
late, goes back to the queue when the worker closes its broker connection), and the
process leaves as soon as Celery's shutdown is done instead of joining the pool's
threads; atexit handlers (log and Sentry flushes) still run. A warm shutdown (plain
SIGTERM) is unchanged: every running task finishes.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from celery.concurrency.thread import TaskPool
from celery.worker import state as worker_state

# What Celery itself exits with after a cold shutdown.
COLD_SHUTDOWN_EXIT_CODE = 1
_abandoned = False


class ThreadPool(TaskPool):
    """Celery's threads pool, leaving running tasks behind on a cold shutdown
    (`--pool threads`: app/broker/celery.py points the alias here)."""

    def terminate_job(self, pid: Any, signal: Any = None) -> None:
        """Leave the task running until the process exits; see the module docstring."""

    def on_stop(self) -> None:
        # Celery's cold shutdown stops the pool after cancelling the running tasks and
        # setting `should_terminate`; a warm stop waits for them, as the stock pool does.
        if worker_state.should_terminate:
            self._abandon_running_tasks()
        else:
            super().on_stop()

    def on_terminate(self) -> None:
        self._abandon_running_tasks()

    def _abandon_running_tasks(self) -> None:
        global _abandoned
        self.executor.shutdown(wait=False, cancel_futures=True)
        if not _abandoned:
            _abandoned = True
            # Interpreter-exit hooks of `threading` run last-registered first and before
            # any thread is joined: this one runs ahead of concurrent.futures' (registered
            # when the pool was imported), which would wait for every running task.
            threading._register_atexit(_exit_without_joining)  # type: ignore[attr-defined]


def _exit_without_joining() -> None:
    atexit._run_exitfuncs()
    os._exit(COLD_SHUTDOWN_EXIT_CODE)
