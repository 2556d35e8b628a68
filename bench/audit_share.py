"""The share of per-message step time spent on audit rows: the same messages run step by
step in this process twice, once as they are and once with every step's audit events
dropped, interleaved message by message; the difference is what the audit costs
(building and hashing the rows, and inserting them as part of each step's commit)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import redis
import sqlalchemy as sa

from app.db import reset_engines, session_scope, skip_pre_ping
from app.db.migrate import upgrade
from app.db.models import AuditEvent
from app.pipeline import runner, transition
from app.pipeline.runner import execute
from bench.keel_runs import seed, use_env
from bench.stack import Stack


@dataclass
class AuditShare:
    messages: int
    rows_per_message: float
    with_audit_s: float
    without_audit_s: float
    postgres_statements: float = 0.0  # per message, in the steps themselves
    redis_commands: float = 0.0  # per message, in the steps (not Celery's own)

    @property
    def audit_ms_per_message(self) -> float:
        return 1000 * (self.with_audit_s - self.without_audit_s) / self.messages

    @property
    def share(self) -> float:
        return (self.with_audit_s - self.without_audit_s) / self.with_audit_s


@contextmanager
def audit_dropped() -> Iterator[None]:
    """Steps commit their state with no audit events (for this measurement only)."""
    saved = (transition.attempt_events, runner.commit_at_once, runner.commit_change)

    def at_once(*, change: transition.Change, **kw: Any) -> Any:
        return saved[1](change=dataclasses.replace(change, events=[]), **kw)

    def in_session(session: Any, *, change: transition.Change, **kw: Any) -> None:
        saved[2](session, change=dataclasses.replace(change, events=[]), **kw)

    transition.attempt_events = lambda attempts: []
    runner.commit_at_once = at_once
    runner.commit_change = in_session
    try:
        yield
    finally:
        transition.attempt_events, runner.commit_at_once, runner.commit_change = saved


@contextmanager
def counted() -> Iterator[dict[str, int]]:
    """Count the statements psycopg sends and the commands redis-py sends meanwhile."""
    counts = {"postgres": 0, "redis": 0}
    execute_sql, send_redis = (
        psycopg.Cursor.execute,
        redis.connection.Connection.send_packed_command,
    )

    def counting_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["postgres"] += 1
        return execute_sql(self, *args, **kwargs)

    def counting_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["redis"] += 1
        return send_redis(self, *args, **kwargs)

    psycopg.Cursor.execute = counting_execute  # type: ignore[method-assign]
    redis.connection.Connection.send_packed_command = counting_send  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        psycopg.Cursor.execute = execute_sql  # type: ignore[method-assign]
        redis.connection.Connection.send_packed_command = send_redis  # type: ignore[method-assign]


def _run(message_id: str) -> float:
    started = time.perf_counter()
    step: str | None = "ingest"
    while step:
        outcome = execute(step, message_id)
        step = outcome.next_step if outcome.kind == "advanced" else None
    return time.perf_counter() - started


def measure_audit_share(stack: Stack, *, n: int) -> AuditShare:
    use_env(stack.env)
    upgrade()
    # the same texts twice, from contacts of their own (a second copy of a conversation's
    # message would supersede the first): the same paths
    audited = seed(n, distinct_contacts=True)
    dropped = seed(n, distinct_contacts=True)
    skip_pre_ping()  # as in a worker
    reset_engines()
    warm_up = seed(20, distinct_contacts=True)
    with counted() as counts:
        for message_id in warm_up:
            _run(message_id)
    with_s = without_s = 0.0
    for a, b in zip(audited, dropped, strict=True):
        with_s += _run(a)
        with audit_dropped():
            without_s += _run(b)
    with session_scope() as session:
        events: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
        rows = session.execute(
            sa.select(sa.func.count()).where(
                events.c.message_id.in_(audited), events.c.action != "received"
            )
        ).scalar_one()
    return AuditShare(
        messages=n,
        rows_per_message=rows / n,
        with_audit_s=with_s,
        without_audit_s=without_s,
        postgres_statements=counts["postgres"] / 20,
        redis_commands=counts["redis"] / 20,
    )
