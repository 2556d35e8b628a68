"""Each message keeps its audit chain's head (seq and hash of its last event), written in
the same commit as every event, whichever door the event came through; `keel audit
verify` checks each chain against it, so a deleted tail shows, and checks that every
chain starts with `received`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa

from app.audit import record, timeline, verify_chain
from app.cli.main import cli
from app.db import session_scope
from app.db.models import AuditEvent, Message, Review, utcnow
from app.pipeline import steps
from app.pipeline.intake import accept_message
from app.pipeline.runner import commit_step, execute, load_message
from app.pipeline.schemas import MessageIn
from app.pipeline.transition import Change
from app.policy import get_policy
from tests.audit.chains import behind_the_triggers, broken, chains, runner, verify_cli


def new_message(external_id: str = "wa-head-1") -> str:
    payload = {
        "external_id": external_id,
        "channel": "whatsapp",
        "contact": {"id": f"c-{external_id}", "timezone": "Europe/Madrid", "locale": "es"},
        "text": "Hola, ¿cuánto cuesta el curso intensivo de inglés?",
    }
    with session_scope() as session:
        message, _ = accept_message(
            session=session, message_in=MessageIn.model_validate(payload), actor="api"
        )
    return message.id


def head_and_events(message_id: str) -> tuple[tuple[int | None, str | None], list[AuditEvent]]:
    with session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return (message.audit_seq, message.audit_hash), timeline(session, message_id)


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """The SQL statements this process sends through psycopg meanwhile (SQLAlchemy's and
    the hot path's own, `app.db.direct`), but the pool's pings of a connection (";")."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def note(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if str(query) != ";":
            sent.append(str(query))
        return execute(cursor, query, *args, **kwargs)

    psycopg.Cursor.execute = note  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]


def run_until_done(message_id: str) -> None:
    step: str | None = "ingest"
    for _ in range(10):
        outcome = execute(step or "", message_id)
        if outcome.kind != "advanced" or not outcome.next_step:
            return
        step = outcome.next_step


def test_the_one_statement_commit_still_chains_and_sets_the_head(open_window_policy: str) -> None:
    # Given a received message, loaded with its chain's head as a worker loads it
    message_id = new_message()
    loaded = load_message(message_id)
    assert loaded is not None
    head, events = head_and_events(message_id)
    assert loaded.audit_head == head == (1, events[0].hash)
    change = steps.ingest(loaded.message, policy=get_policy(), now=utcnow())
    assert change is not None and change.events
    # When the step commits on Postgres
    with statements_sent() as sent:
        commit_step(loaded.message, step="ingest", change=change, audit_head=loaded.audit_head)
    # Then it took one statement, its events follow `received`, and the head is the last
    assert len(sent) == 1 and sent[0].lstrip().upper().startswith("WITH"), sent
    head, events = head_and_events(message_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)) and len(events) > 1
    assert head == (events[-1].seq, events[-1].hash)
    assert verify_chain(events) is None
    assert verify_cli()[0] == 0


def test_a_commit_in_a_transaction_and_a_lone_record_also_move_the_head(
    open_window_policy: str,
) -> None:
    # Given a message and a duplicate of it (intake's `record`)
    message_id = new_message()
    new_message()
    head, events = head_and_events(message_id)
    assert [e.action for e in events] == ["received", "duplicate"]
    assert head == (2, events[-1].hash)
    # When a step commits with a new row (the transaction path, not the one statement)
    loaded = load_message(message_id)
    assert loaded is not None
    change = Change(
        next_step=None,
        updates={"state": "escalated", "escalation_reason": "test"},
        events=[("escalated", {"reason": "test"})],
        rows=[Review(message_id=message_id, reason="test")],
    )
    commit_step(loaded.message, step="classify", change=change, audit_head=loaded.audit_head)
    # Then the head moved with the event, in the same commit
    head, events = head_and_events(message_id)
    assert events[-1].action == "escalated"
    assert head == (3, events[-1].hash)
    assert verify_cli()[0] == 0


def test_deleting_a_messages_last_events_with_the_triggers_disabled_is_reported(
    simulator: str, receiver: Any, open_window_policy: str, keel_env: dict[str, str]
) -> None:
    # Given two messages sent through the whole pipeline, their chains intact
    victim, bystander = new_message("wa-head-1"), new_message("wa-head-2")
    run_until_done(victim)
    run_until_done(bystander)
    _, events = head_and_events(victim)
    last_seq = events[-1].seq
    assert events[-1].action == "sent" and verify_cli()[0] == 0
    # When a database owner switches the triggers off and deletes the last two events
    with behind_the_triggers(keel_env["DATABASE_URL"]) as conn:
        deleted = conn.execute(
            sa.text("DELETE FROM audit_events WHERE message_id = :m AND seq >= :s"),
            {"m": victim, "s": last_seq - 1},
        ).rowcount
    assert deleted == 2
    # Then verify exits 1 naming that message and a missing tail from the first gone seq
    code, report = verify_cli()
    assert code == 1
    assert broken(report) == [(victim, "missing_tail", last_seq - 1)]
    table = runner.invoke(cli, ["audit", "verify"])
    assert table.exit_code == 1
    assert f"missing_tail {victim} at seq {last_seq - 1}" in table.stdout


def test_an_event_appended_after_a_deleted_tail_leaves_the_hole_visible(
    keel_env: dict[str, str],
) -> None:
    # Given a chain of five whose last two events were deleted behind the triggers
    (message_id,) = chains([5])
    with behind_the_triggers(keel_env["DATABASE_URL"]) as conn:
        conn.execute(
            sa.text("DELETE FROM audit_events WHERE message_id = :m AND seq > 3"),
            {"m": message_id},
        )
    # When Keel appends the message's next event
    with session_scope() as session:
        record(session, message_id=message_id, action="reconciled", actor="beat")
    # Then it follows the head (seq 6), not the shortened chain, and the hole stays
    head, events = head_and_events(message_id)
    assert [e.seq for e in events] == [1, 2, 3, 6] and head[0] == 6
    code, report = verify_cli()
    assert code == 1 and broken(report) == [(message_id, "gap", 4)]


def test_a_chain_that_does_not_start_with_received_is_reported(keel_env: dict[str, str]) -> None:
    # Given one chain that starts with `received` and one that starts elsewhere
    (good,) = chains([2], first="received")
    (bad,) = chains([3], first="classified")
    # When the operator verifies
    code, report = verify_cli()
    # Then only the second is reported, as not starting at `received`
    assert code == 1
    assert broken(report) == [(bad, "no_received", 1)]
    assert good not in {b["message_id"] for b in report["broken"]}


def test_a_message_without_any_event_is_reported(keel_env: dict[str, str]) -> None:
    # Given a message whose row was written without its `received` event
    with session_scope() as session:
        message = Message(external_id="wa-bare", channel="whatsapp", contact_id="c", text="x")
        session.add(message)
    # Then verify names it
    code, report = verify_cli()
    assert code == 1 and broken(report) == [(message.id, "no_received", 1)]
