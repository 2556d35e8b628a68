"""The share of per-message step time spent writing audit rows, measured by timing
`app.audit.record` while the steps run in this process."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import app.deadletter as deadletter
from app.audit import record as original_record
from app.db.migrate import upgrade
from app.pipeline import intake, parking, reconcile, runner, transition
from app.pipeline.runner import execute
from bench.keel_runs import seed, use_env
from bench.stack import Stack


@dataclass
class AuditShare:
    messages: int
    events: int
    audit_s: float
    total_s: float

    @property
    def share(self) -> float:
        return self.audit_s / self.total_s


def measure_audit_share(stack: Stack, *, n: int) -> AuditShare:
    use_env(stack.env)
    upgrade()
    ids = seed(n)
    original = original_record
    spent = {"s": 0.0, "n": 0}

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["s"] += time.perf_counter() - started
            spent["n"] += 1

    modules = (transition, parking, reconcile, runner, intake, deadletter)
    saved = {m: getattr(m, "record", None) for m in modules}
    for module in modules:
        if hasattr(module, "record"):
            module.record = timed  # type: ignore[attr-defined]
    try:
        started = time.perf_counter()
        for mid in ids:
            step: str | None = "ingest"
            while step:
                outcome = execute(step, mid)
                step = outcome.next_step if outcome.kind == "advanced" else None
        total = time.perf_counter() - started
    finally:
        for module, fn in saved.items():
            if fn is not None:
                module.record = fn  # type: ignore[attr-defined]
    return AuditShare(messages=n, events=int(spent["n"]), audit_s=spent["s"], total_s=total)
