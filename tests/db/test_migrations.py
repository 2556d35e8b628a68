"""The first migration goes up and down on Postgres and SQLite, and the constraints hold."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db.migrate import downgrade, upgrade

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
        downgrade(url)  # the test database arrives migrated
    assert tables(url) == set()
    upgrade(url)
    assert tables(url) == TABLES
    downgrade(url)
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
