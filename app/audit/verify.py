"""Checking every hash chain in the audit table, streamed in keyset-paginated chunks.

Rows are read in `(message_id, seq)` order, a chunk at a time, each chunk in its own
short transaction, so millions of events never sit in memory at once and no long
snapshot holds back vacuum. Only one message's events are buffered at a time.
Events without a message (chains of one) are checked in a second pass by id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from app.audit.chain import verify_chain
from app.db import session_scope
from app.db.models import AuditEvent

CHUNK_ROWS = 5000

_COLUMNS = (
    col(AuditEvent.id),
    col(AuditEvent.message_id),
    col(AuditEvent.seq),
    col(AuditEvent.at),
    col(AuditEvent.trace_id),
    col(AuditEvent.actor),
    col(AuditEvent.action),
    col(AuditEvent.step),
    col(AuditEvent.detail),
    col(AuditEvent.prev_hash),
    col(AuditEvent.hash),
)


@dataclass(frozen=True)
class BrokenChain:
    """A message whose chain fails at `seq`; `event_id` is set for events without one."""

    message_id: str | None
    seq: int
    event_id: int | None = None


@dataclass
class VerifyReport:
    messages: int = 0
    events: int = 0
    broken: list[BrokenChain] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.broken


def _message_rows(chunk_rows: int, url: str | None) -> Iterator[Any]:
    """Every event that has a message, in `(message_id, seq)` order, chunk by chunk."""
    after: tuple[str, int] | None = None
    while True:
        query = (
            sa.select(*_COLUMNS)
            .where(col(AuditEvent.message_id).is_not(None))
            .order_by(col(AuditEvent.message_id), col(AuditEvent.seq))
            .limit(chunk_rows)
        )
        if after is not None:
            query = query.where(
                sa.tuple_(col(AuditEvent.message_id), col(AuditEvent.seq)) > sa.tuple_(*after)
            )
        with session_scope(url) as session:
            rows = session.execute(query).all()
        yield from rows
        if len(rows) < chunk_rows:
            return
        after = (rows[-1].message_id, rows[-1].seq)


def _orphan_rows(chunk_rows: int, url: str | None) -> Iterator[Any]:
    """Every event without a message, by id, chunk by chunk."""
    after = 0
    while True:
        query = (
            sa.select(*_COLUMNS)
            .where(col(AuditEvent.message_id).is_(None), col(AuditEvent.id) > after)
            .order_by(col(AuditEvent.id))
            .limit(chunk_rows)
        )
        with session_scope(url) as session:
            rows = session.execute(query).all()
        yield from rows
        if len(rows) < chunk_rows:
            return
        after = rows[-1].id


def _check(report: VerifyReport, events: Sequence[Any]) -> None:
    report.messages += 1
    report.events += len(events)
    bad_seq = verify_chain(events)
    if bad_seq is not None:
        report.broken.append(BrokenChain(message_id=events[0].message_id, seq=bad_seq))


def verify_all(*, chunk_rows: int = CHUNK_ROWS, url: str | None = None) -> VerifyReport:
    """Recompute every chain; a message is broken at the first seq that does not match."""
    report = VerifyReport()
    current: list[Any] = []
    for row in _message_rows(chunk_rows, url):
        if current and row.message_id != current[0].message_id:
            _check(report, current)
            current = []
        current.append(row)
    if current:
        _check(report, current)
    for row in _orphan_rows(chunk_rows, url):
        report.events += 1
        bad_seq = verify_chain([row])
        if bad_seq is not None:
            report.broken.append(BrokenChain(message_id=None, seq=bad_seq, event_id=row.id))
    return report
