"""Wiring Sentry and JSON logs into the worker and beat through Celery's signals.

`celeryd_init` and `beat_init` start Sentry in those processes only (importing
`tasks` from the API or a test does nothing); `start_worker_observability` (each
threads-pool process) or `worker_process_init` (each prefork child) starts trace export, and
the warm shutdown's signals flush it; `setup_logging` makes Celery leave the
root logger to us; `task_prerun`/`task_postrun` bind the task's message id, step and
task id to its log lines and Sentry scope, and log each step's outcome.
"""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from celery import signals

from app.db import skip_pre_ping
from app.observability.logging import (
    bind_task_context,
    set_component,
    setup_logging,
    unbind_task_context,
)
from app.observability.metrics import mark_child_dead, serve_worker_metrics
from app.observability.scrub import is_message_id
from app.observability.sentry import init_sentry
from app.observability.tracing import init_tracing, shutdown_tracing

log = logging.getLogger("keel.tasks")
_tokens: dict[str, Any] = {}


def _on_worker_init(**_: Any) -> None:
    set_component("worker")
    skip_pre_ping()
    init_sentry("worker")


def _is_prefork(worker: Any) -> bool:
    pool = getattr(worker, "pool_cls", None)
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return "prefork" in str(name)


def start_worker_observability(worker: Any, *, serve_metrics: bool = True) -> None:
    """In each worker process, before its pool starts (`tasks` calls it at `worker_init`,
    after forking WORKER_PROCESSES): trace export here for a threads or solo pool (a
    prefork pool's children start their own after the fork, `_on_worker_child_init`),
    and the metrics port in the first process only."""
    if not _is_prefork(worker):
        init_tracing("worker")
    if serve_metrics:
        serve_worker_metrics()


def _on_worker_child_init(**_: Any) -> None:
    """A prefork child, just forked: its own exporter thread (one inherited across a
    fork never runs)."""
    init_tracing("worker")


def _on_worker_child_shutdown(**_: Any) -> None:
    shutdown_tracing()
    mark_child_dead()


def _on_worker_shutdown(**_: Any) -> None:
    """Warm shutdown done: the last spans leave before the process does."""
    shutdown_tracing()


def _on_beat_init(sender: Any = None, **_: Any) -> None:
    set_component("beat")
    schedule = dict(sender.app.conf.beat_schedule or {}) if sender is not None else {}
    init_sentry("beat", beat_schedule=schedule)


def _on_setup_logging(loglevel: int | None = None, **_: Any) -> None:
    setup_logging(None, loglevel or logging.INFO)


def _on_task_prerun(
    task_id: str | None = None, task: Any = None, args: Any = None, **_: Any
) -> None:
    name = str(getattr(task, "name", "") or "")
    message_id = args[0] if args and is_message_id(args[0]) else ""
    step = name.removeprefix("keel.")
    if task_id:
        _tokens[task_id] = bind_task_context(message_id=message_id, step=step, task_id=task_id)
    if message_id:
        sentry_sdk.set_tag("message_id", message_id)
    sentry_sdk.set_tag("step", step)


def _on_task_postrun(
    task_id: str | None = None, task: Any = None, retval: Any = None, state: Any = None, **_: Any
) -> None:
    if task_id is None or task_id not in _tokens:
        return
    outcome = retval if state == "SUCCESS" and isinstance(retval, str) else str(state).lower()
    log.info("task finished", extra={"outcome": outcome})
    unbind_task_context(_tokens.pop(task_id))


def install_celery_hooks() -> None:
    """Connect the handlers (strongly: they are module functions)."""
    signals.celeryd_init.connect(_on_worker_init, weak=False)
    signals.worker_process_init.connect(_on_worker_child_init, weak=False)
    signals.worker_process_shutdown.connect(_on_worker_child_shutdown, weak=False)
    signals.worker_shutdown.connect(_on_worker_shutdown, weak=False)
    signals.beat_init.connect(_on_beat_init, weak=False)
    signals.setup_logging.connect(_on_setup_logging, weak=False)
    signals.task_prerun.connect(_on_task_prerun, weak=False)
    signals.task_postrun.connect(_on_task_postrun, weak=False)
