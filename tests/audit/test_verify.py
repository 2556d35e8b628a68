"""`keel audit verify` streams every chain, passes a real pipeline run, and names the
message, the kind of break and the seq of any row altered behind the trigger's back."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from app.audit import record
from app.audit.verify import verify_all
from app.cli.main import cli
from app.db import session_scope
from app.db.migrate import upgrade
from app.db.models import AuditEvent, Message
from app.demo.run import load_inbox
from app.pipeline.intake import accept_message
from app.pipeline.runner import execute
from app.pipeline.schemas import MessageIn
from tests.audit.chains import behind_the_triggers, broken, chains, runner, use_database, verify_cli


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
        heads = session.exec(select(Message.audit_seq)).all()
    assert settled > 0 and total_events > 5 * len(ids)
    assert all(seq is not None and seq >= 2 for seq in heads)
    # When the operator verifies the audit record
    code, report = verify_cli()
    # Then every chain is intact, every head matches, and every event was read
    assert code == 0, report
    assert report == {
        "intact": True,
        "messages": len(ids),
        "events": total_events,
        "keyed": False,
        "broken": [],
        "by_kind": {},
    }


def test_streaming_in_small_chunks_finds_what_one_pass_finds(keel_env: dict[str, str]) -> None:
    ids = chains([1, 4, 2, 5, 3])
    with session_scope() as session:
        record(session, message_id=None, action="breaker_opened", actor="worker")
    # Chunks of 2 and 3 rows cut through chains at every possible place.
    for chunk_rows in (2, 3, 1000):
        report = verify_all(chunk_rows=chunk_rows)
        assert (report.messages, report.events, report.broken) == (5, 16, []), chunk_rows
    with behind_the_triggers(keel_env["DATABASE_URL"]) as conn:
        conn.execute(
            sa.text("DELETE FROM audit_events WHERE message_id = :m AND seq = 3"), {"m": ids[3]}
        )
        conn.execute(sa.text("DELETE FROM audit_events WHERE message_id = :m"), {"m": ids[2]})
        conn.execute(sa.text("UPDATE audit_events SET actor = 'cli' WHERE message_id IS NULL"))
    expected = [
        (ids[2], "no_received", 1),
        (ids[2], "missing_tail", 1),
        (ids[3], "gap", 3),
        (None, "bad_hash", 1),
    ]
    for chunk_rows in (2, 3, 1000):
        report = verify_all(chunk_rows=chunk_rows)
        found = [(b.message_id, b.kind, b.seq) for b in report.broken]
        assert sorted(found, key=repr) == sorted(expected, key=repr), chunk_rows
        assert (report.messages, report.events) == (5, 13), chunk_rows


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
        use_database(monkeypatch, url)
    ids = chains([3, 3, 3], url=url)
    code, report = verify_cli()
    assert (code, report["intact"], report["messages"], report["events"]) == (0, True, 3, 9)
    # When a database owner switches the guard off and rewrites one event's detail
    with behind_the_triggers(url) as conn:
        conn.execute(
            sa.text(
                'UPDATE audit_events SET detail = \'{"cost_usd": "0"}\' '
                "WHERE message_id = :m AND seq = 2"
            ),
            {"m": ids[1]},
        )
    # Then verify exits 1 and names that message, the kind of break and its seq
    code, report = verify_cli()
    assert code == 1
    assert report["intact"] is False
    assert report["broken"] == [
        {"message_id": ids[1], "kind": "bad_hash", "seq": 2, "event_id": None}
    ]
    assert report["by_kind"] == {"bad_hash": 1}
    table = runner.invoke(cli, ["audit", "verify"])
    assert table.exit_code == 1
    assert ids[1] in table.stdout and "bad_hash" in table.stdout and "seq 2" in table.stdout
    assert broken(report) == [(ids[1], "bad_hash", 2)]
