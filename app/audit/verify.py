"""Checking every audit chain against its message's head, streamed in keyset-paginated
chunks.

Rows are read in `(message_id, seq)` order with their message's head joined, a chunk
at a time, each chunk in its own short transaction, so millions of events never sit in
memory at once and no long snapshot holds back vacuum. Only one message's events are
buffered at a time. Then messages without any event (their whole chain deleted, or
never written), then events without a message (chains of one), by id.

With KEEL_AUDIT_KEY, keyed rows are checked with it, and every row after the key's
registration (`app.audit.admin`) must be keyed; without it, keyed rows cannot be
checked and are reported as `unknown_key`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.audit.admin import key_registration
from app.audit.chain import EVENT_COLUMNS, audit_key
from app.audit.checks import Finding, check_events, check_message
from app.db import session_scope
from app.db.models import AuditEvent, Message

CHUNK_ROWS = 5000

_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_COLUMNS = [_EVENTS.c[name] for name in ("id", "message_id", *EVENT_COLUMNS, "hash_scheme")]
_HEAD = (
    _MESSAGES.c.id.label("m_id"),
    _MESSAGES.c.audit_seq.label("head_seq"),
    _MESSAGES.c.audit_hash.label("head_hash"),
)


@dataclass(frozen=True)
class BrokenChain:
    """One kind of break in a message's chain, at its first seq; `event_id` names an
    event without a message."""

    message_id: str | None
    kind: str
    seq: int | None
    event_id: int | None = None


@dataclass
class VerifyReport:
    messages: int = 0
    events: int = 0
    broken: list[BrokenChain] = field(default_factory=list)
    keyed: bool = False  # checked with KEEL_AUDIT_KEY
    key_registered_at: int | None = None  # the event id of the key's registration

    @property
    def intact(self) -> bool:
        return not self.broken

    def by_kind(self) -> dict[str, int]:
        """How many chains show each kind of break."""
        return dict(sorted(Counter(b.kind for b in self.broken).items()))


def _pages(query: sa.Select[Any], url: str | None, chunk_rows: int, after: Any) -> Iterator[Any]:
    """The rows of `query(after)` chunk by chunk, each chunk in its own transaction."""
    last: Any = None
    while True:
        with session_scope(url) as session:
            rows = session.execute(after(query, last).limit(chunk_rows)).all()
        yield from rows
        if len(rows) < chunk_rows:
            return
        last = rows[-1]


def _message_rows(chunk_rows: int, url: str | None) -> Iterator[Any]:
    """Every event that has a message, in `(message_id, seq)` order, with its message's
    head (None columns when the message row is missing)."""
    query = (
        sa.select(*_COLUMNS, *_HEAD)
        .select_from(_EVENTS.outerjoin(_MESSAGES, _MESSAGES.c.id == _EVENTS.c.message_id))
        .where(_EVENTS.c.message_id.is_not(None))
        .order_by(_EVENTS.c.message_id, _EVENTS.c.seq)
    )

    def after(q: sa.Select[Any], last: Any) -> sa.Select[Any]:
        if last is None:
            return q
        return q.where(
            sa.tuple_(_EVENTS.c.message_id, _EVENTS.c.seq) > sa.tuple_(last.message_id, last.seq)
        )

    return _pages(query, url, chunk_rows, after)


def _messages_without_events(chunk_rows: int, url: str | None) -> Iterator[Any]:
    """Every message that has no event at all, by id."""
    query = (
        sa.select(*_HEAD)
        .where(~sa.exists().where(_EVENTS.c.message_id == _MESSAGES.c.id))
        .order_by(_MESSAGES.c.id)
    )

    def after(q: sa.Select[Any], last: Any) -> sa.Select[Any]:
        return q if last is None else q.where(_MESSAGES.c.id > last.m_id)

    return _pages(query, url, chunk_rows, after)


def _orphan_rows(chunk_rows: int, url: str | None) -> Iterator[Any]:
    """Every event without a message, by id."""
    query = sa.select(*_COLUMNS).where(_EVENTS.c.message_id.is_(None)).order_by(_EVENTS.c.id)

    def after(q: sa.Select[Any], last: Any) -> sa.Select[Any]:
        return q if last is None else q.where(_EVENTS.c.id > last.id)

    return _pages(query, url, chunk_rows, after)


def _add(report: VerifyReport, message_id: str | None, findings: list[Finding]) -> None:
    report.broken.extend(BrokenChain(message_id, str(f.kind), f.seq) for f in findings)


def verify_all(*, chunk_rows: int = CHUNK_ROWS, url: str | None = None) -> VerifyReport:
    """Check every chain and every message's head; each kind of break is reported once
    per message, at the first seq it shows."""
    key = audit_key()
    report = VerifyReport(keyed=key is not None)
    plain_until: int | None = None
    if key is not None:
        with session_scope(url) as session:
            report.key_registered_at = key_registration(session.connection(), key)
        # Never registered: every row must be keyed.
        plain_until = report.key_registered_at or 0

    def check(events: Sequence[Any]) -> None:
        first = events[0]
        head = None if first.m_id is None else (first.head_seq, first.head_hash)
        report.messages += 1
        report.events += len(events)
        findings = check_message(events, head=head, key=key, plain_until=plain_until)
        _add(report, first.message_id, findings)

    current: list[Any] = []
    for row in _message_rows(chunk_rows, url):
        if current and row.message_id != current[0].message_id:
            check(current)
            current = []
        current.append(row)
    if current:
        check(current)
    for message in _messages_without_events(chunk_rows, url):
        report.messages += 1
        head = (message.head_seq, message.head_hash)
        _add(report, message.m_id, check_message([], head=head, key=key))
    for row in _orphan_rows(chunk_rows, url):
        report.events += 1
        for finding in check_events([row], key=key, plain_until=plain_until):
            report.broken.append(BrokenChain(None, str(finding.kind), finding.seq, row.id))
    return report
