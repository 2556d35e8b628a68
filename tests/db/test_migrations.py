"""The migrations go up and down on Postgres and SQLite, the constraints hold, a
downgrade past the append-only migration needs `i_know`, and 0007 backfills each
message's audit chain head from its events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.chain import event_hash
from app.audit.verify import verify_all
from app.db import reset_engines
from app.db.migrate import AppendOnlyDowngrade, downgrade, upgrade

TABLES = {
    "messages",
    "audit_events",
    "deliveries",
    "dead_letters",
    "reviews",
    "conversations",
    "contacts",
    "outcomes",
}


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_upgrade_then_downgrade_then_upgrade_again(
    backend: str, pg_url: str, sqlite_url: str
) -> None:
    url = pg_url if backend == "postgres" else sqlite_url
    if backend == "postgres":
        downgrade(url, i_know=True)  # the test database arrives migrated
    assert tables(url) == set()
    upgrade(url)
    assert tables(url) == TABLES
    downgrade(url, i_know=True)
    assert tables(url) == set()
    upgrade(url)
    assert tables(url) == TABLES


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_the_unique_constraints_refuse_duplicates(
    backend: str, pg_url: str, sqlite_url: str
) -> None:
    url = pg_url if backend == "postgres" else sqlite_url
    upgrade(url)
    engine = sa.create_engine(url)
    row = (
        "INSERT INTO messages (id, external_id, channel, contact_id, text, extra, state, "
        "next_step, step_attempts, version, trace_id, cost_usd, created_at, updated_at) VALUES "
        "(:id, 'wa-1', 'whatsapp', 'c-1', 'hola', '{}', 'received', 'ingest', 0, 0, 't', 0, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    delivery = (
        "INSERT INTO deliveries (message_id, idempotency_key, text, channel, target, status, "
        "attempts, created_at) VALUES (:m, :k, 'x', 'whatsapp', 'log', 'pending', 0, "
        "CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(row), {"id": "a"})
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(row), {"id": "b"})
        with engine.begin() as conn:
            conn.execute(sa.text(delivery), {"m": "a", "k": "keel-a"})
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(delivery), {"m": "b", "k": "keel-a"})
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
@pytest.mark.parametrize("target", ["base", "0002", "-5"])
def test_a_downgrade_past_the_append_only_migration_needs_i_know(
    backend: str, target: str, pg_url: str, sqlite_url: str
) -> None:
    url = pg_url if backend == "postgres" else sqlite_url
    upgrade(url)
    with pytest.raises(AppendOnlyDowngrade, match="append-only"):
        downgrade(url, target)
    assert tables(url) == TABLES
    downgrade(url, "0003")  # keeping it needs no flag
    upgrade(url)


def columns(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _chain_at_0006(url: str, message_id: str, actions: list[str]) -> list[str]:
    """A message and its chain written as revision 0006 knew them; returns the hashes."""
    engine = sa.create_engine(url)
    hashes: list[str] = []
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO messages (id, external_id, channel, contact_id, text, extra, "
                    "state, next_step, step_attempts, version, trace_id, regenerations, "
                    "cost_usd, created_at, updated_at) VALUES (:id, :id, 'whatsapp', 'c-1', "
                    "'hola', '{}', 'received', 'ingest', 0, 0, 't', 0, 0, CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"id": message_id},
            )
            events = sa.Table("audit_events", sa.MetaData(), autoload_with=conn)
            prev: str | None = None
            for seq, action in enumerate(actions, start=1):
                row: dict[str, Any] = {
                    "message_id": message_id,
                    "seq": seq,
                    "at": dt.datetime(2026, 11, 1, 12, 0, seq, tzinfo=dt.UTC),
                    "trace_id": "t",
                    "actor": "worker",
                    "action": action,
                    "step": None,
                    "detail": {"n": seq},
                    "prev_hash": prev,
                }
                prev = event_hash(**row)
                hashes.append(prev)
                conn.execute(sa.insert(events).values(**row, hash=prev))
    finally:
        engine.dispose()
    return hashes


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_0007_backfills_each_messages_chain_head_and_goes_down_and_up(
    backend: str, pg_url: str, sqlite_url: str
) -> None:
    # Given a database at 0006 holding chains written before heads existed
    url = pg_url if backend == "postgres" else sqlite_url
    if backend == "postgres":
        downgrade(url, "0006")
    else:
        upgrade(url, "0006")
    assert "audit_seq" not in columns(url, "messages")
    ids = sorted(str(uuid.uuid4()) for _ in range(2))
    first = _chain_at_0006(url, ids[0], ["received", "classified", "drafted"])
    second = _chain_at_0006(url, ids[1], ["received"])
    # When 0007 runs
    upgrade(url)
    reset_engines()
    # Then every message's head is its last event, every event reads "sha256", and the
    # record verifies
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            heads = conn.execute(
                sa.text("SELECT id, audit_seq, audit_hash FROM messages ORDER BY id")
            ).all()
            schemes = conn.execute(sa.text("SELECT DISTINCT hash_scheme FROM audit_events")).all()
    finally:
        engine.dispose()
    assert [tuple(h) for h in heads] == [(ids[0], 3, first[-1]), (ids[1], 1, second[-1])]
    assert [s[0] for s in schemes] == ["sha256"]
    report = verify_all(url=url)
    assert (report.intact, report.messages, report.events) == (True, 2, 4), report.broken
    # And it goes down (the columns go, the events stay) and up again
    downgrade(url, "0006")
    assert {"audit_seq", "audit_hash"}.isdisjoint(columns(url, "messages"))
    assert "hash_scheme" not in columns(url, "audit_events")
    engine = sa.create_engine(url)
    try:  # the append-only guard survived (SQLite drops the column in place)
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_events"))
    finally:
        engine.dispose()
    upgrade(url)
    reset_engines()
    assert verify_all(url=url).intact
