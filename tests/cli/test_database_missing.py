"""A newcomer's first `keel` command against a database without Keel's schema, or one
that does not answer, prints one line saying so and what to run, and exits 1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from app.cli.main import database_problem

PG_ADMIN_DSN = os.environ.get("KEEL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def keel(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`keel ARGS` as a user runs it (through the entry point), with only DATABASE_URL set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "DATABASE_URL"))}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for part in expected:
        assert part in lines[0], lines[0]


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A Postgres database with nothing in it."""
    name = f"keel_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def port_nobody_listens_on() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connecting is refused


@pytest.mark.parametrize(
    "command",
    [
        ("dlq", "list"),
        ("review", "list"),
        ("audit", "verify"),
        ("trace", "6f1c2a4e-1111-4222-8333-944455566677"),
    ],
)
def test_a_command_against_an_empty_sqlite_file_says_to_run_db_upgrade(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = keel(*command, database_url=f"sqlite:///{tmp_path / 'empty.db'}", cwd=tmp_path)
    assert_one_line(result, "no Keel schema", "keel db upgrade")


def test_dlq_list_against_an_empty_postgres_database_says_to_run_db_upgrade(
    tmp_path: Path, empty_postgres: str
) -> None:
    result = keel("dlq", "list", database_url=empty_postgres, cwd=tmp_path)
    assert_one_line(result, "no Keel schema", 'relation "dead_letters" does not exist')
    assert "keel db upgrade" in result.stderr


def test_dlq_list_against_a_database_that_does_not_answer_says_so(tmp_path: Path) -> None:
    url = f"postgresql://keel@127.0.0.1:{port_nobody_listens_on()}/keel"
    result = keel("dlq", "list", database_url=url, cwd=tmp_path)
    assert_one_line(result, "does not answer", "Connection refused", "DATABASE_URL")


def test_any_other_sqlite_error_keeps_its_traceback() -> None:
    # A statement Keel got wrong is a bug, not a newcomer's set-up: it is not hidden,
    # though SQLite calls both an OperationalError
    engine = sa.create_engine("sqlite://")
    with pytest.raises(sa.exc.OperationalError) as missing, engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM dead_letters"))
    assert "keel db upgrade" in (database_problem(missing.value) or "")
    with pytest.raises(sa.exc.OperationalError) as syntax, engine.connect() as conn:
        conn.execute(sa.text("SELEKT 1"))
    assert database_problem(syntax.value) is None


def test_a_postgres_error_other_than_a_missing_table_or_connection_is_left_alone(
    empty_postgres: str,
) -> None:
    engine = sa.create_engine(empty_postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with pytest.raises(sa.exc.ProgrammingError) as syntax, engine.connect() as conn:
            conn.execute(sa.text("SELEKT 1"))
        assert database_problem(syntax.value) is None
        with pytest.raises(sa.exc.OperationalError) as cancelled, engine.connect() as conn:
            conn.execute(sa.text("SET statement_timeout = 10"))
            conn.execute(sa.text("SELECT pg_sleep(1)"))
        assert database_problem(cancelled.value) is None
        with pytest.raises(sa.exc.ProgrammingError) as missing, engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM dead_letters"))
        assert "keel db upgrade" in (database_problem(missing.value) or "")
    finally:
        engine.dispose()
