"""Helpers of the audit tests: messages with chains, `keel audit verify`, and tampering
as a database owner does it (triggers off, rows changed, triggers on)."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.audit import record
from app.audit.chain import event_hash
from app.config import reset_settings
from app.db import reset_engines, session_scope
from app.db.models import AuditEvent, Message

runner = CliRunner()
EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
ROOT = Path(__file__).resolve().parents[2]
TEST_KEY = "test-audit-key-0123456789abcdef"


def verify_cli() -> tuple[int, dict[str, Any]]:
    """`keel audit verify --json`: its exit code and report."""
    from app.cli.main import cli

    result = runner.invoke(cli, ["audit", "verify", "--json"])
    return result.exit_code, json.loads(result.stdout)


def broken(report: dict[str, Any]) -> list[tuple[str | None, str, int | None]]:
    """The report's breaks as (message id, kind, seq)."""
    return [(b["message_id"], b["kind"], b["seq"]) for b in report["broken"]]


def chains(lengths: list[int], *, url: str | None = None, first: str = "received") -> list[str]:
    """Messages whose chains hold that many events each (the first one `first`);
    returns their ids in verify order."""
    ids = sorted(str(uuid.uuid4()) for _ in lengths)
    with session_scope(url) as session:
        for message_id, n in zip(ids, lengths, strict=True):
            session.add(
                Message(
                    id=message_id,
                    external_id=message_id,
                    channel="whatsapp",
                    contact_id="c-audit",
                    text="hola",
                )
            )
            session.flush()
            for i in range(n):
                action = first if i == 0 else f"a{i}"
                record(session, message_id=message_id, action=action, actor="worker")
    return ids


def use_key(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    """Set (or unset) KEEL_AUDIT_KEY for this process from now on."""
    if key is None:
        monkeypatch.delenv("KEEL_AUDIT_KEY", raising=False)
    else:
        monkeypatch.setenv("KEEL_AUDIT_KEY", key)
    reset_settings()


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings()
    reset_engines()


def _append_only_migration() -> ModuleType:
    path = ROOT / "migrations" / "versions" / "0003_audit_append_only.py"
    spec = importlib.util.spec_from_file_location("keel_migration_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def behind_the_triggers(url: str) -> Iterator[sa.Connection]:
    """A connection of the owner with the audit table's triggers off, on again after."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER ALL"))
            else:
                conn.execute(sa.text("DROP TRIGGER audit_events_no_update"))
                conn.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
            yield conn
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER ALL"))
            else:
                for statement in _append_only_migration().SQLITE_TRIGGERS:
                    conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def rehash(
    conn: sa.Connection, message_id: str, *, from_seq: int, key: str | None, scheme: str | None
) -> None:
    """Recompute the hashes of a chain from `from_seq` on, as someone who rewrote a row
    would (with `key`, or plain SHA-256 without), relink them, set `hash_scheme` to
    `scheme` (None: leave it) and move the message's head to the new last hash."""
    rows = conn.execute(
        sa.select(EVENTS).where(EVENTS.c.message_id == message_id).order_by(EVENTS.c.seq)
    ).all()
    prev: str | None = None
    for row in rows:
        if row.seq < from_seq:
            prev = row.hash
            continue
        digest = event_hash(
            message_id=message_id,
            seq=row.seq,
            at=row.at,
            trace_id=row.trace_id,
            actor=row.actor,
            action=row.action,
            step=row.step,
            detail=row.detail,
            prev_hash=prev,
            key=key,
        )
        conn.execute(
            sa.update(EVENTS)
            .where(EVENTS.c.id == row.id)
            .values(hash=digest, prev_hash=prev, hash_scheme=scheme or row.hash_scheme)
        )
        prev = digest
    conn.execute(
        sa.update(MESSAGES)
        .where(MESSAGES.c.id == message_id)
        .values(audit_seq=rows[-1].seq, audit_hash=prev)
    )
