"""Two database roles (SPEC 14): the release migrates as the owner (DATABASE_URL) and the
processes run as KEEL_APP_DATABASE_URL's role, which may only INSERT and SELECT the audit
table: it can neither edit, delete nor truncate history, nor switch its triggers off, and
the pipeline still runs as it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from app.audit import record, timeline, verify_chain
from app.config import Settings, get_settings, reset_settings
from app.db import get_engine, reset_engines, session_scope
from app.db.migrate import downgrade, upgrade
from app.db.models import Message
from app.pipeline.intake import accept_message
from app.pipeline.runner import execute
from app.pipeline.schemas import MessageIn
from tests.deploy.pg_roles import AppRole, heroku_url, psycopg_dsn

KEEL = str(Path(sys.executable).with_name("keel"))
BEFORE_GRANTS = "0005"

# What the app role must never be able to do to history: each refused by the
# permission check (SQLSTATE 42501), before any trigger gets a say.
TAMPERING = [
    "UPDATE audit_events SET action = 'sent'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_events_append_only ON audit_events",
    "DROP TABLE audit_events",
]


def _configure(monkeypatch: pytest.MonkeyPatch, *, owner_url: str, app_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", owner_url)
    monkeypatch.setenv("KEEL_APP_DATABASE_URL", app_url)
    reset_settings()
    reset_engines()


def _migrate_grants(owner_url: str) -> None:
    """Run the grants migration again, now that the role is configured."""
    downgrade(owner_url, BEFORE_GRANTS)
    upgrade(owner_url, "head")


@pytest.fixture
def granted(
    monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str], pg_url: str, app_role: AppRole
) -> Iterator[AppRole]:
    """The test database migrated with KEEL_APP_DATABASE_URL naming the app role."""
    _configure(monkeypatch, owner_url=heroku_url(pg_url), app_url=app_role.url)
    keel_env["KEEL_APP_DATABASE_URL"] = app_role.url
    _migrate_grants(pg_url)
    yield app_role


def _refused(
    dsn: str, statement: str, error: type[psycopg.Error] = psycopg.errors.InsufficientPrivilege
) -> psycopg.Error:
    """The error `statement` meets when run alone on a connection to `dsn`."""
    with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(error) as refused:
        conn.execute(statement)
    return refused.value


def _audit_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM audit_events").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("app_url", "role"),
    [
        ("postgres://keel_app:pw@db.example.com:5432/keel", "keel_app"),
        ("postgresql+psycopg://u2abc@h/keel?sslmode=require", "u2abc"),
        ("postgres://h/keel", None),
        ("sqlite:///./keel.db", None),
        (None, None),
    ],
)
def test_the_app_role_is_the_user_of_keel_app_database_url(
    app_url: str | None, role: str | None
) -> None:
    from app.db.roles import app_role_name

    assert app_role_name(Settings(keel_app_database_url=app_url)) == role


def test_a_role_the_migration_has_not_granted_reads_nothing(pg_url: str, app_role: AppRole) -> None:
    # The template database was migrated without KEEL_APP_DATABASE_URL: nothing granted.
    _refused(app_role.dsn, "SELECT count(*) FROM messages")


def test_the_app_role_inserts_and_reads_audit_rows_and_cannot_tamper_with_them(
    granted: AppRole,
) -> None:
    # Given the processes' engine, which connects as the app role
    with get_engine().connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar_one() == granted.name

    # When it appends an audit event and reads it back
    with session_scope() as session:
        record(session, message_id=None, action="reconciled", actor="beat", detail={"n": 1})
    with psycopg.connect(granted.dsn, autocommit=True) as conn:
        assert _audit_count(conn) == 1

        # Then every way of rewriting history is refused by the permission check
        for statement in TAMPERING:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
                conn.execute(statement)
            assert refused.value.sqlstate == "42501", statement
        # And the working tables are its to read and write
        conn.execute("UPDATE messages SET version = version WHERE false")
        conn.execute("DELETE FROM dead_letters WHERE false")
        assert _audit_count(conn) == 1


def test_the_owner_meets_the_trigger_where_the_app_role_meets_the_permission_check(
    granted: AppRole, pg_url: str
) -> None:
    # The owner may UPDATE the table, so only the append-only trigger stops it (23001);
    # the app role never gets that far (42501, above).
    with session_scope() as session:
        record(session, message_id=None, action="reconciled", actor="beat")
    update = "UPDATE audit_events SET action = 'sent'"
    assert _refused(psycopg_dsn(pg_url), update, psycopg.errors.RestrictViolation).sqlstate == (
        "23001"
    )
    assert _refused(granted.dsn, update).sqlstate == "42501"


def test_a_message_runs_every_step_to_sent_as_the_app_role(
    granted: AppRole, simulator: str, receiver: Any, open_window_policy: str
) -> None:
    # Given a message accepted through the processes' engine (the app role)
    payload = {
        "external_id": "wa-app-role-1",
        "channel": "whatsapp",
        "contact": {"id": "c-app-role-1", "timezone": "Europe/Madrid", "locale": "es"},
        "text": "Hola, ¿cuánto cuesta el curso intensivo de inglés?",
    }
    with session_scope() as session:
        message, _ = accept_message(
            session=session, message_in=MessageIn.model_validate(payload), actor="api"
        )
    message_id = message.id

    # When every step runs as it would in a worker
    step: str | None = "ingest"
    kinds: list[str] = []
    while step is not None and len(kinds) < 10:
        outcome = execute(step, message_id)
        kinds.append(outcome.kind)
        step = outcome.next_step if outcome.kind == "advanced" else None

    # Then it was sent once, with an intact audit chain written by the app role
    assert get_settings().app_database_url != get_settings().database_url
    with session_scope() as session:
        stored = session.get(Message, message_id)
        assert stored is not None and stored.state == "sent", kinds
        events = timeline(session, message_id)
    assert verify_chain(events) is None
    assert [e.action for e in events][-1] == "sent"
    assert len(receiver.accepted()) == 1


def test_downgrading_past_the_grants_takes_them_back(granted: AppRole, pg_url: str) -> None:
    reset_engines()

    downgrade(pg_url, BEFORE_GRANTS)

    _refused(granted.dsn, "SELECT count(*) FROM audit_events")


def _keel_db_upgrade(owner_url: str, app_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": owner_url, "KEEL_APP_DATABASE_URL": app_url}
    return subprocess.run(
        [KEEL, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_release_grants_a_role_configured_after_the_schema_reached_head(
    pg_url: str, app_role: AppRole
) -> None:
    # Given a database already at head, migrated before the role existed in the config
    # When the release phase runs with KEEL_APP_DATABASE_URL now set
    done = _keel_db_upgrade(heroku_url(pg_url), app_role.url)

    # Then the role reads and writes the working tables and only appends to the audit
    assert done.returncode == 0, done.stderr
    assert app_role.name in done.stdout
    with psycopg.connect(app_role.dsn, autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM messages")
        conn.execute("SELECT count(*) FROM audit_events")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_events")


def test_a_release_naming_a_role_that_does_not_exist_stops_with_one_line(pg_url: str) -> None:
    missing = heroku_url(pg_url, username="nobody_here")

    done = _keel_db_upgrade(heroku_url(pg_url), missing)

    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "KEEL_APP_DATABASE_URL" in lines[0], done.stderr
    assert "nobody_here" in lines[0]
