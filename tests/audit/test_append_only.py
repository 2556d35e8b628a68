"""The database itself refuses to rewrite the audit record, on Postgres and SQLite."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.audit import record
from app.db import session_scope
from app.db.migrate import downgrade, upgrade


def _one_chain(url: str) -> str:
    message_id = str(uuid.uuid4())
    with session_scope(url) as session:
        for action in ("received", "classified"):
            record(session, message_id=message_id, action=action, actor="worker")
    return message_id


def _migrated(backend: str, pg_url: str, sqlite_url: str) -> str:
    if backend == "postgres":
        return pg_url  # copied from a template migrated to head
    upgrade(sqlite_url)
    return sqlite_url


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'human' WHERE message_id = :m",
        "UPDATE audit_events SET detail = '{}' WHERE message_id = :m AND seq = 2",
        "DELETE FROM audit_events WHERE message_id = :m",
        "DELETE FROM audit_events",
    ],
)
def test_updating_or_deleting_audit_events_is_refused(
    backend: str, statement: str, pg_url: str, sqlite_url: str
) -> None:
    # Given a migrated database holding one message's chain
    url = _migrated(backend, pg_url, sqlite_url)
    message_id = _one_chain(url)
    engine = sa.create_engine(url)
    try:
        # When anyone tries to change or remove a row, it is refused by the trigger
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement), {"m": message_id})
        # Then both rows are still there, unchanged
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT actor FROM audit_events WHERE message_id = :m ORDER BY seq"),
                {"m": message_id},
            ).all()
        assert [r.actor for r in rows] == ["worker", "worker"]
    finally:
        engine.dispose()


def test_truncating_the_audit_table_is_refused_on_postgres(pg_url: str) -> None:
    _one_chain(pg_url)
    engine = sa.create_engine(pg_url)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE audit_events"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar() == 2
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_appending_still_works_and_downgrading_removes_the_guard(
    backend: str, pg_url: str, sqlite_url: str
) -> None:
    url = _migrated(backend, pg_url, sqlite_url)
    message_id = _one_chain(url)
    downgrade(url, "0002", i_know=True)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                sa.text("UPDATE audit_events SET actor = 'human' WHERE message_id = :m"),
                {"m": message_id},
            ).rowcount
        assert changed == 2
    finally:
        engine.dispose()
    upgrade(url)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), session_scope(url) as session:
        session.execute(sa.text("DELETE FROM audit_events"))
