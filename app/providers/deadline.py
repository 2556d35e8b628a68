"""The time a step has left for model calls (issue 13: a failover chain never outlives
its task).

The step's runner opens `step_deadline(seconds)` around its work; the failover chain asks
`remaining_s()` before each call, gives each call the smaller of its own timeout and the
time left, and stops calling once too little is left for an answer. A context variable,
so each thread of a threads pool (where Celery enforces no time limit at all) and each
prefork child keeps its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("keel_step_deadline", default=None)


@contextmanager
def step_deadline(seconds: float) -> Iterator[None]:
    """Model calls made inside the block end within `seconds` of its start."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_s() -> float | None:
    """Seconds left before the current step's deadline; None outside any step."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()
