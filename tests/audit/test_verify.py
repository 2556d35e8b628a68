"""`keel audit verify` streams every chain, passes a real pipeline run, and names the
message and seq of any row altered behind the trigger's back."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import func, select
from typer.testing import CliRunner

from app.audit import record
from app.audit.verify import verify_all
from app.cli.main import cli
from app.config import reset_settings
from app.db import reset_engines, session_scope
from app.db.migrate import upgrade
from app.db.models import AuditEvent, Message
from app.demo.run import load_inbox
from app.pipeline.intake import accept_message
from app.pipeline.runner import execute
from app.pipeline.schemas import MessageIn

runner = CliRunner()


def verify_cli() -> tuple[int, dict[str, Any]]:
    result = runner.invoke(cli, ["audit", "verify", "--json"])
    return result.exit_code, json.loads(result.stdout)


def chains(lengths: list[int], *, url: str | None = None) -> list[str]:
    """Messages with that many events each; returns their ids in verify order."""
    ids = sorted(str(uuid.uuid4()) for _ in lengths)
    with session_scope(url) as session:
        for message_id, n in zip(ids, lengths, strict=True):
            for i in range(n):
                record(session, message_id=message_id, action=f"a{i}", actor="worker")
    return ids


def run_until_done(message_id: str) -> None:
    step: str | None = "ingest"
    for _ in range(10):
        outcome = execute(step or "", message_id)
        if outcome.kind != "advanced" or not outcome.next_step:
            return
        step = outcome.next_step


def test_every_message_of_a_full_pipeline_run_verifies(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    # Given a dozen inbox messages taken through every step against the simulator
    ids = []
    for item in load_inbox(12):
        with session_scope() as session:
            message, _ = accept_message(
                session=session, message_in=MessageIn.model_validate(item), actor="api"
            )
        ids.append(message.id)
        run_until_done(message.id)
    with session_scope() as session:
        settled = session.exec(select(func.count()).where(Message.state == "sent")).one()
        total_events = session.exec(select(func.count()).select_from(AuditEvent)).one()
    assert settled > 0 and total_events > 5 * len(ids)
    # When the operator verifies the audit record
    code, report = verify_cli()
    # Then every chain is intact and every event was read
    assert code == 0, report
    assert report == {
        "intact": True,
        "messages": len(ids),
        "events": total_events,
        "broken": [],
    }


def test_streaming_in_small_chunks_finds_what_one_pass_finds(keel_env: dict[str, str]) -> None:
    ids = chains([1, 4, 2, 5, 3])
    with session_scope() as session:
        record(session, message_id=None, action="breaker_opened", actor="worker")
    # Chunks of 2 and 3 rows cut through chains at every possible place.
    for chunk_rows in (2, 3, 1000):
        report = verify_all(chunk_rows=chunk_rows)
        assert (report.messages, report.events, report.broken) == (5, 16, []), chunk_rows
    engine = sa.create_engine(keel_env["DATABASE_URL"])
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            )
            conn.execute(
                sa.text("DELETE FROM audit_events WHERE message_id = :m AND seq = 3"), {"m": ids[3]}
            )
            conn.execute(sa.text("UPDATE audit_events SET actor = 'cli' WHERE message_id IS NULL"))
            conn.execute(
                sa.text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
            )
    finally:
        engine.dispose()
    for chunk_rows in (2, 3, 1000):
        broken = verify_all(chunk_rows=chunk_rows).broken
        assert [(b.message_id, b.seq) for b in broken] == [(ids[3], 4), (None, 1)], chunk_rows


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_a_row_altered_behind_the_trigger_makes_verify_exit_1_and_name_it(
    backend: str,
    keel_env: dict[str, str],
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given intact chains on either database
    url = keel_env["DATABASE_URL"]
    if backend == "sqlite":
        upgrade(sqlite_url)
        url = sqlite_url
        monkeypatch.setenv("DATABASE_URL", url)
        reset_settings()
        reset_engines()
    ids = chains([3, 3, 3], url=url)
    assert verify_cli() == (0, {"intact": True, "messages": 3, "events": 9, "broken": []})
    # When a superuser switches the guard off and rewrites one event's detail
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if backend == "postgres":
                conn.execute(
                    sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
                )
            else:
                conn.execute(sa.text("DROP TRIGGER audit_events_no_update"))
            conn.execute(
                sa.text(
                    'UPDATE audit_events SET detail = \'{"cost_usd": "0"}\' '
                    "WHERE message_id = :m AND seq = 2"
                ),
                {"m": ids[1]},
            )
    finally:
        engine.dispose()
    # Then verify exits 1 and names that message and the first broken seq
    code, report = verify_cli()
    assert code == 1
    assert report["intact"] is False
    assert report["broken"] == [{"message_id": ids[1], "seq": 2, "event_id": None}]
    table = runner.invoke(cli, ["audit", "verify"])
    assert table.exit_code == 1 and ids[1] in table.stdout and "seq 2" in table.stdout
