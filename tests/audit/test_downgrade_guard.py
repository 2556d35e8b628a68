"""`keel db downgrade` past the append-only migration (0003) needs `--i-know`, and is
audited: a `schema_downgrade` event without a message, written before the downgrade
starts, and a WARNING log line."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from app.audit.admin import register_key
from app.cli.main import cli
from app.db import reset_engines
from tests.audit.chains import TEST_KEY, chains, runner, use_key, verify_cli

HEAD = "0007"


def is_log(line: str) -> bool:
    return line.startswith('{"ts": ')


def revision(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar())
    finally:
        engine.dispose()


@pytest.mark.parametrize("target", ["0002", "base", "-5"])
def test_downgrade_without_i_know_refuses_with_exit_1_and_one_line(
    keel_env: dict[str, str], target: str
) -> None:
    # Given a database at head
    url = keel_env["DATABASE_URL"]
    assert revision(url) == HEAD
    # When the operator downgrades past 0003 without --i-know
    result = runner.invoke(cli, ["db", "downgrade", "--", target])
    # Then it refuses in one line saying what to add, and nothing changed
    assert result.exit_code == 1
    # (an earlier test in the same process may have set up JSON logs: those lines are
    # the log's, not the command's output)
    assert [line for line in result.stdout.splitlines() if not is_log(line)] == []
    lines = [line for line in result.stderr.strip().splitlines() if not is_log(line)]
    assert len(lines) == 1 and "--i-know" in lines[0] and "append-only" in lines[0], lines
    assert revision(url) == HEAD


def test_downgrade_that_keeps_the_append_only_migration_needs_no_flag(
    keel_env: dict[str, str],
) -> None:
    result = runner.invoke(cli, ["db", "downgrade", "0003"])
    assert result.exit_code == 0, result.output
    assert revision(keel_env["DATABASE_URL"]) == "0003"
    reset_engines()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0


def test_downgrade_with_i_know_is_audited_and_the_record_still_verifies(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given keyed chains, the key registered
    use_key(monkeypatch, TEST_KEY)
    register_key()
    chains([3])
    url = keel_env["DATABASE_URL"]
    # When the operator downgrades past 0003 saying --i-know
    with caplog.at_level(logging.WARNING, logger="keel.db"):
        result = runner.invoke(cli, ["db", "downgrade", "0002", "--i-know"])
    # Then it ran, said so at WARNING, and wrote who and when before it started
    assert result.exit_code == 0, result.output
    assert revision(url) == "0002"
    assert any(
        r.levelno == logging.WARNING and "append-only" in r.getMessage() for r in caplog.records
    )
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            event = conn.execute(
                sa.text(
                    "SELECT message_id, actor, detail, at FROM audit_events "
                    "WHERE action = 'schema_downgrade'"
                )
            ).one()
    finally:
        engine.dispose()
    assert event.message_id is None and event.actor == "cli" and event.at is not None
    assert event.detail["from"] == [HEAD] and event.detail["to"] == "0002"
    assert event.detail["db_role"] and event.detail["os_user"] and event.detail["host"]
    # And after upgrading again (0007's schemes were dropped on the way), every chain,
    # the key's registration and the downgrade's event still verify with the key
    reset_engines()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    code, report = verify_cli()
    assert code == 0, report
    assert report["events"] == 3 + 2
