"""Structured logs: one JSON object per line on stderr, for web, worker and beat.

Fields: `ts`, `level`, `logger`, `msg`, `component`, and when known `message_id`,
`trace_id`, `step`, `outcome`, `task_id` (from the record's `extra=` or from the task
being run), plus a few other allow-listed extras (`reason`, `error`, `provider`, ...).
Any other extra is dropped, so a stray `extra={"text": ...}` never reaches the log;
strings are scanned for e-mail addresses and phone numbers as well. Exceptions are
logged by type and stack, not by message, which may echo input.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from app.observability.scrub import scrub_text

CONTEXT_FIELDS = ("message_id", "trace_id", "step", "outcome", "task_id")
EXTRA_FIELDS = (
    *CONTEXT_FIELDS,
    "reason",
    "error",
    "provider",
    "model",
    "tier",
    "queue",
    "attempt",
    "status",
    "http_status",
    "retry_in_s",
)
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# The HTTP clients under the SDKs and the webhook log every request at INFO, URL
# included (a webhook URL may carry a token). Model calls are audited instead.
_QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2")

_component: str | None = None

_task_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "keel_task_context", default=None
)


def bind_task_context(**fields: str) -> contextvars.Token[dict[str, str] | None]:
    """Attach ids (message_id, task_id, step) to every log line until `unbind`."""
    return _task_context.set({k: v for k, v in fields.items() if v})


def unbind_task_context(token: contextvars.Token[dict[str, str] | None]) -> None:
    _task_context.reset(token)


@contextlib.contextmanager
def step_context(step: str) -> Iterator[None]:
    """Log lines inside the block name `step` (a task running on to its next step)."""
    token = _task_context.set({**(_task_context.get() or {}), "step": step})
    try:
        yield
    finally:
        _task_context.reset(token)


def _trace_id() -> str | None:
    """The exported trace's id (the message's, inside a step) when trace export is on,
    else Sentry's."""
    from app.observability import tracing
    from app.observability.sentry import current_trace_id

    return tracing.current_trace_id() or current_trace_id()


def _message(record: logging.LogRecord) -> str:
    """The formatted message; Celery's task-failure lines name the exception by type only
    (its message may echo input), the same as `exc_type` below."""
    args = record.args
    if isinstance(args, Mapping) and "exc" in args and record.exc_info and record.exc_info[0]:
        try:
            return str(record.msg) % {**args, "exc": record.exc_info[0].__name__}
        except (TypeError, KeyError, ValueError):
            pass
    return record.getMessage()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with ids and no message text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub_text(_message(record)),
            "pid": record.process,  # a worker dyno runs several processes
        }
        if _component:
            line["component"] = _component
        context = _task_context.get() or {}
        for key in EXTRA_FIELDS:
            value = getattr(record, key, None)
            if value is None:
                value = context.get(key)
            if isinstance(value, str):
                line[key] = scrub_text(value)
            elif isinstance(value, int | float | bool):
                line[key] = value
        if "trace_id" not in line and (trace_id := _trace_id()):
            line["trace_id"] = trace_id
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            frames = "".join(traceback.format_tb(record.exc_info[2])).rstrip()
            line["stack"] = f"Traceback (most recent call last):\n{frames}"
        return json.dumps(line, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def set_component(component: str) -> None:
    """Name the process kind (web, worker, beat) on every line from now on."""
    global _component
    _component = component


def setup_logging(component: str | None, level: int | str = logging.INFO) -> logging.Handler:
    """Send every log record of this process to stderr as JSON lines. Idempotent."""
    if component:
        set_component(component)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
