"""Latency percentiles, streamed: model calls per task, and the time between steps of
each message from its audit timestamps."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from app.db.models import AuditEvent
from app.reporting.queries import detail_text
from app.reporting.stats import percentile

# (name, from action, to actions): the first `to` event after the first `from` event.
STEP_SPANS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("received->classified", "received", ("classified",)),
    ("classified->drafted", "classified", ("drafted",)),
    ("drafted->sent", "drafted", ("sent",)),
    ("received->settled", "received", ("sent", "no_reply", "escalated", "dead_lettered")),
)
_ACTIONS = sorted({a for _, start, ends in STEP_SPANS for a in (start, *ends)})
_BATCH = 2000


@dataclass(frozen=True)
class Latency:
    count: int
    p50: float | None
    p95: float | None

    @classmethod
    def of(cls, values: list[float]) -> Latency:
        return cls(len(values), percentile(values, 0.5), percentile(values, 0.95))

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "p50": self.p50, "p95": self.p95}


def _since(query: Any, since: dt.datetime | None) -> Any:
    return query if since is None else query.where(col(AuditEvent.at) >= since)


def model_call_latency_ms(session: Session, since: dt.datetime | None) -> dict[str, Latency]:
    """p50/p95 of every model call attempt's latency (ms), per task."""
    query = sa.select(detail_text("keel.task"), detail_text("keel.latency_ms")).where(
        col(AuditEvent.action) == "model_call"
    )
    by_task: dict[str, list[float]] = defaultdict(list)
    result = session.execute(_since(query, since).execution_options(yield_per=_BATCH))
    for task, latency in result:
        if latency is not None:
            by_task[str(task)].append(float(latency))
    return {task: Latency.of(values) for task, values in sorted(by_task.items())}


def spans_s(rows: Iterable[tuple[str | None, str, dt.datetime]]) -> dict[str, list[float]]:
    """Seconds between steps per message, from (message id, action, time) rows sorted by
    message and time. Pure, so it is tested without a database."""
    out: dict[str, list[float]] = {name: [] for name, _, _ in STEP_SPANS}

    def close(first: dict[str, dt.datetime]) -> None:
        for name, start, ends in STEP_SPANS:
            began = first.get(start)
            finished = [first[e] for e in ends if e in first and first[e] >= began] if began else []
            if began and finished:
                out[name].append((min(finished) - began).total_seconds())

    current: str | None = None
    first: dict[str, dt.datetime] = {}
    for message_id, action, at in rows:
        if message_id != current:
            close(first)
            current, first = message_id, {}
        first.setdefault(action, at)
    close(first)
    return out


def step_latency_s(session: Session, since: dt.datetime | None) -> dict[str, Latency]:
    """p50/p95 seconds between steps (received->classified, ..., received->settled)."""
    query = (
        sa.select(col(AuditEvent.message_id), col(AuditEvent.action), col(AuditEvent.at))
        .where(col(AuditEvent.action).in_(_ACTIONS), col(AuditEvent.message_id).is_not(None))
        .order_by(col(AuditEvent.message_id), col(AuditEvent.seq))
    )
    result = session.execute(_since(query, since).execution_options(yield_per=_BATCH))
    spans = spans_s((m, a, t) for m, a, t in result)
    return {name: Latency.of(values) for name, values in spans.items()}
