"""Each step run twice has one effect; errors go where their type says."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import select

from app.audit import timeline
from app.db import session_scope
from app.db.models import DeadLetter, Delivery, Message, Review
from app.pipeline.intake import accept_message
from app.pipeline.runner import execute
from app.pipeline.schemas import MessageIn


def new_message(text: str = "Hola, ¿cuánto cuesta el curso intensivo de inglés?", **kw: Any) -> str:
    external_id = kw.pop("external_id", "wa-1")
    # one contact per message: each is a conversation of its own unless a test says so
    contact_id = kw.pop("contact_id", f"c-{external_id}")
    payload = {
        "external_id": external_id,
        "channel": kw.pop("channel", "whatsapp"),
        "contact": {
            "id": contact_id,
            "timezone": kw.pop("timezone", "Europe/Madrid"),
            "locale": "es",
        },
        "text": text,
    }
    with session_scope() as session:
        message, _ = accept_message(
            session=session, message_in=MessageIn.model_validate(payload), actor="api"
        )
    return message.id


def load(message_id: str) -> Message:
    with session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message


def actions(message_id: str) -> list[str]:
    with session_scope() as session:
        return [e.action for e in timeline(session, message_id)]


def sim_calls(base_url: str, task: str | None = None) -> int:
    stats = httpx.get(f"{base_url}/_sim/stats").json()
    if task is None:
        return int(stats["total"])
    return int(stats["by_task"].get(task, 0))


def run_until_done(message_id: str) -> None:
    step = "ingest"
    for _ in range(10):
        outcome = execute(step, message_id)
        if outcome.kind != "advanced" or not outcome.next_step:
            return
        step = outcome.next_step


def test_every_step_run_twice_has_one_effect(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = new_message()
    for step in ("ingest", "classify", "draft", "check", "deliver"):
        before = actions(mid)
        calls_before = sim_calls(simulator)
        first = execute(step, mid)
        assert first.kind == "advanced", (step, first)
        after_first = actions(mid)
        calls_after_first = sim_calls(simulator)
        second = execute(step, mid)
        assert second.kind == "skipped", (step, second)
        assert actions(mid) == after_first
        assert sim_calls(simulator) == calls_after_first
        assert len(after_first) >= len(before)
        assert calls_after_first - calls_before == (1 if step in ("classify", "draft") else 0)
    message = load(mid)
    assert message.state == "sent"
    assert len(receiver.accepted()) == 1
    post = receiver.accepted()[0]
    assert post.signature_ok and post.idempotency_key == f"keel-{mid}"
    assert post.body["text"] == message.reply_text
    input_checks, output_checks = 4, 8
    assert actions(mid) == [
        "received",
        *["guardrail"] * input_checks,
        "model_call",
        "classified",
        "model_call",
        "drafted",
        *["guardrail"] * (output_checks + 1),  # and the send window
        "sent",
    ]


def test_a_failed_primary_fails_over_to_the_next_model_and_says_so(
    simulator: str, open_window_policy: str
) -> None:
    httpx.post(
        f"{simulator}/_sim/rules",
        json={"when": {"provider": "anthropic"}, "fail": {"status": 529, "rate": 1.0}},
    ).raise_for_status()
    mid = new_message()
    execute("ingest", mid)
    outcome = execute("classify", mid)
    assert outcome.kind == "advanced"
    with session_scope() as session:
        events = timeline(session, mid)
    calls = [e.detail for e in events if e.action == "model_call"]
    assert [c["gen_ai.provider.name"] for c in calls] == ["anthropic", "openai"]
    assert calls[0]["keel.status"] == "unavailable" and calls[0]["http.response.status_code"] == 529
    failover = [e.detail for e in events if e.action == "failover"]
    assert failover == [
        {
            "from": "anthropic:claude-haiku-4-5",
            "to": "openai:gpt-5-nano",
            "reason": "unavailable",
            "tier": "fast",
            "to_tier": "fast",
        }
    ]


def test_every_provider_down_parks_the_message_at_its_step(
    simulator: str, open_window_policy: str
) -> None:
    for provider in ("anthropic", "openai"):
        httpx.post(
            f"{simulator}/_sim/outage", json={"provider": provider, "status": 503, "seconds": 60}
        ).raise_for_status()
    mid = new_message()
    execute("ingest", mid)
    outcome = execute("classify", mid)
    assert outcome.kind == "parked"
    message = load(mid)
    assert message.state == "parked" and message.next_step == "classify"
    assert message.parked_tier == "fast" and message.parked_at is not None
    # The fast chain, then the standard tier it may borrow: four models, four calls.
    assert actions(mid).count("model_call") == 4
    assert actions(mid)[-1] == "parked"


def test_a_request_every_provider_rejects_is_dead_lettered_provider_rejected(
    simulator: str, open_window_policy: str
) -> None:
    httpx.post(f"{simulator}/_sim/rules", json={"when": {}, "fail": {"status": 400}})
    mid = new_message()
    execute("ingest", mid)
    assert execute("classify", mid).kind == "dead"
    with session_scope() as session:
        dead = session.exec(select(DeadLetter).where(DeadLetter.message_id == mid)).one()
    assert dead.reason == "provider_rejected" and dead.step == "classify"
    assert load(mid).state == "dead"


def test_garbage_in_the_database_is_dead_lettered_invalid_input(keel_env: dict[str, str]) -> None:
    mid = new_message()
    with session_scope() as session:
        session.execute(sa.update(Message).where(Message.id == mid).values(text="   "))  # type: ignore[arg-type]
    assert execute("ingest", mid).kind == "dead"
    with session_scope() as session:
        dead = session.exec(select(DeadLetter).where(DeadLetter.message_id == mid)).one()
    assert dead.reason == "invalid_input"
    assert actions(mid)[-1] == "dead_lettered"


def test_a_webhook_500_retries_and_a_400_dead_letters_delivery_rejected(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = new_message()
    for step in ("ingest", "classify", "draft", "check"):
        assert execute(step, mid).kind == "advanced"
    receiver.answer_status = 503
    outcome = execute("deliver", mid)
    assert outcome.kind == "retry"
    assert "delivery_failed" in actions(mid)
    receiver.answer_status = 400
    assert execute("deliver", mid).kind == "dead"
    with session_scope() as session:
        dead = session.exec(select(DeadLetter).where(DeadLetter.message_id == mid)).one()
        delivery = session.exec(select(Delivery).where(Delivery.message_id == mid)).one()
    assert dead.reason == "delivery_rejected"
    assert delivery.attempts == 2
    keys = {p.idempotency_key for p in receiver.posts}
    assert keys == {f"keel-{mid}"}
    assert len({p.body["text"] for p in receiver.posts}) == 1


def test_a_reply_outside_the_send_window_is_scheduled_and_released_when_due(
    simulator: str, receiver: Any, keel_env: dict[str, str]
) -> None:
    mid = new_message(timezone="Europe/Madrid")
    for step in ("ingest", "classify", "draft"):
        assert execute(step, mid).kind == "advanced"
    night = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)  # 03:00 in Madrid
    outcome = execute("check", mid, now=night)
    assert outcome.kind == "waiting"
    message = load(mid)
    assert message.state == "scheduled"
    assert message.send_at == dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)  # 08:00 Madrid
    assert execute("deliver", mid, now=night).kind == "waiting"
    assert receiver.posts == []
    assert execute("deliver", mid, now=message.send_at).kind == "advanced"
    assert load(mid).state == "sent" and len(receiver.accepted()) == 1


def test_thanks_gets_no_reply_and_a_refund_demand_is_escalated(
    simulator: str, open_window_policy: str
) -> None:
    thanks = new_message("¡Muchas gracias!", external_id="wa-thanks")
    refund = new_message(
        "Quiero que me devuelvan el dinero del curso, exijo un reembolso ya", external_id="wa-ref"
    )
    run_until_done(thanks)
    run_until_done(refund)
    assert load(thanks).state == "no_reply"
    escalated = load(refund)
    assert escalated.state == "escalated" and escalated.escalation_reason == "intent:refund_request"
    with session_scope() as session:
        review = session.exec(select(Review).where(Review.message_id == refund)).one()
    assert review.status == "pending"


def test_a_draft_quoting_a_price_not_in_the_catalog_is_never_sent(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    httpx.post(
        f"{simulator}/_sim/rules",
        json={
            "when": {"task": "draft"},
            "respond": {"text": "¡Claro! El curso intensivo cuesta 399 € al mes."},
        },
    ).raise_for_status()
    mid = new_message()
    run_until_done(mid)
    message = load(mid)
    assert message.state == "escalated"
    assert message.escalation_reason and "prices" in message.escalation_reason
    assert receiver.posts == []


def test_an_event_appended_while_a_step_runs_is_chained_not_overwritten(
    open_window_policy: str,
) -> None:
    """A step reads the audit chain's head with the message; a duplicate arriving
    before the step commits appends an event, and the step's events chain after it."""
    from app.audit import verify_chain
    from app.db.models import utcnow
    from app.pipeline import steps
    from app.pipeline.runner import commit_step, load_message
    from app.policy import get_policy

    mid = new_message(external_id="wa-dup")
    loaded = load_message(mid)
    assert loaded is not None and loaded.audit_head is not None
    change = steps.ingest(loaded.message, policy=get_policy(), now=utcnow())
    new_message(external_id="wa-dup")  # the same message again: a `duplicate` event
    commit_step(loaded.message, step="ingest", change=change, audit_head=loaded.audit_head)
    with session_scope() as session:
        events = timeline(session, mid)
    assert [e.action for e in events][:3] == ["received", "duplicate", "guardrail"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert verify_chain(events) is None
    assert load(mid).next_step == "classify"


def test_a_stale_commit_changes_nothing_not_even_its_extra_updates(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    """The one-statement commit runs a step's extra UPDATEs only if the message moved."""
    import pytest

    from app.pipeline.runner import commit_step, load_message
    from app.pipeline.transition import Change, Extra, StaleMessage

    mid = new_message()
    for step in ("ingest", "classify", "draft", "check"):
        assert execute(step, mid).kind == "advanced"
    loaded = load_message(mid)
    assert loaded is not None
    assert execute("deliver", mid).kind == "advanced"  # the message moves on meanwhile
    before = actions(mid)
    late = Change(
        next_step=None,
        statements=[
            Extra(
                sa.update(Delivery)
                .where(Delivery.message_id == sa.bindparam("late_id"))  # type: ignore[arg-type]
                .values(status="failed"),
                {"late_id": mid},
            )
        ],
        events=[("sent", {"late": True})],
    )
    with pytest.raises(StaleMessage):
        commit_step(loaded.message, step="deliver", change=late, audit_head=loaded.audit_head)
    with session_scope() as session:
        delivery = session.exec(select(Delivery).where(Delivery.message_id == mid)).one()
    assert delivery.status == "sent"
    assert actions(mid) == before
    assert load(mid).state == "sent"
