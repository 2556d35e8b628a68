"""`keel dlq`, `keel parked` and `keel providers` against a real database and Redis."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlmodel import select
from typer.testing import CliRunner

from app.cli import cli
from app.db import session_scope
from app.db.models import DeadLetter
from app.pipeline.runner import execute
from tests.helpers import queued_ids
from tests.pipeline.test_steps import actions, load, new_message

runner = CliRunner()


def keel(*args: str) -> Any:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def rejected_delivery(receiver: Any, external_id: str) -> str:
    mid = new_message(external_id=external_id)
    for step in ("ingest", "classify", "draft", "check"):
        assert execute(step, mid).kind == "advanced"
    receiver.answer_status = 400
    assert execute("deliver", mid).kind == "dead"
    return mid


def test_dlq_list_show_and_replay_resume_at_the_failed_step_once(
    simulator: str, receiver: Any, open_window_policy: str, keel_env: dict[str, str]
) -> None:
    mid = rejected_delivery(receiver, "wa-dl-1")
    listed = json.loads(keel("dlq", "list", "--json").stdout)
    assert [(e["message_id"], e["reason"], e["step"]) for e in listed] == [
        (mid, "delivery_rejected", "deliver")
    ]
    entry_id = listed[0]["id"]
    shown = json.loads(keel("dlq", "show", str(entry_id), "--json").stdout)
    assert shown["last_error"] == "webhook answered 400"

    dry = json.loads(
        keel("dlq", "replay", "--reason", "delivery_rejected", "--dry-run", "--json").stdout
    )
    assert dry["would_replay"] == 1
    assert load(mid).state == "dead"

    receiver.answer_status = 200
    result = json.loads(keel("dlq", "replay", "--reason", "delivery_rejected", "--json").stdout)
    assert result["replayed"] == 1 and result["replayed_ids"] == [entry_id]
    message = load(mid)
    assert message.state == "drafted" and message.next_step == "deliver"
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.deliver") == [mid]
    assert actions(mid)[-1] == "replayed"

    again = json.loads(keel("dlq", "replay", "--id", str(entry_id), "--json").stdout)
    assert again.get("already_replayed") == 1 and "replayed" not in again
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.deliver") == [mid]

    assert execute("deliver", mid).kind == "advanced"
    posts = receiver.posts
    assert [p.status for p in posts] == [400, 200]
    assert {p.idempotency_key for p in posts} == {f"keel-{mid}"}
    assert len({p.body["text"] for p in posts}) == 1
    assert load(mid).state == "sent"
    assert json.loads(keel("dlq", "list", "--json").stdout) == []


def test_replaying_an_entry_whose_message_is_in_flight_changes_nothing(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = rejected_delivery(receiver, "wa-dl-2")
    from app.deadletter.replay import DeadLetterFilter, list_dead_letters, replay_one
    from app.policy import get_policy

    (entry,) = list_dead_letters(DeadLetterFilter())
    # Someone else (another operator) moved the message on already.
    receiver.answer_status = 200
    with session_scope() as session:
        from app.db.models import Message

        message = session.get(Message, mid)
        assert message is not None
        message.state = "drafted"
        session.add(message)
    assert replay_one(entry, policy=get_policy()) == "not_dead"
    with session_scope() as session:
        fresh = session.exec(select(DeadLetter)).one()
    assert fresh.replayed_at is None


def test_replay_without_a_selection_is_a_usage_error(keel_env: dict[str, str]) -> None:
    assert keel("dlq", "replay").exit_code == 2


def test_purge_needs_yes_and_keeps_the_audit(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = rejected_delivery(receiver, "wa-dl-3")
    assert keel("dlq", "purge", "--before", "0s").exit_code == 1
    assert json.loads(keel("dlq", "purge", "--before", "2030-01-01", "--yes", "--json").stdout) == {
        "deleted": 1
    }
    assert "dead_lettered" in actions(mid)
    assert keel("dlq", "purge", "--before", "yesterday-ish", "--yes").exit_code == 2


def test_parked_list_and_manual_drain(
    simulator: str, open_window_policy: str, keel_env: dict[str, str]
) -> None:
    for provider in ("anthropic", "openai"):
        httpx.post(
            f"{simulator}/_sim/outage", json={"provider": provider, "status": 503, "seconds": 60}
        )
    mid = new_message(external_id="wa-parked")
    execute("ingest", mid)
    assert execute("classify", mid).kind == "parked"
    listed = json.loads(keel("parked", "list", "--json").stdout)
    assert [(p["id"], p["tier"], p["step"]) for p in listed] == [(mid, "fast", "classify")]
    drained = json.loads(keel("parked", "drain", "--rate", "100", "--json").stdout)
    assert drained == {"drained": 1}
    assert load(mid).state == "received"
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.fast") == [mid]


def test_providers_shows_every_model_with_its_breaker(keel_env: dict[str, str]) -> None:
    rows = json.loads(keel("providers", "--json").stdout)
    assert {r["model"] for r in rows} >= {"anthropic:claude-haiku-4-5", "openai:gpt-5-nano"}
    assert {r["state"] for r in rows} == {"closed"}
