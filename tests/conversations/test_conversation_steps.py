"""Conversations through the real steps (SPEC 11), run by hand against Postgres, Redis,
the simulator and a webhook receiver: bursts, follow-ups, supersede, order, opt-out,
handoff and the reply window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app.config import reset_settings
from app.conversations import context_for
from app.conversations.manage import opt_in, release
from app.db import session_scope
from app.db.models import Conversation, Message, Review, utcnow
from app.pipeline.intake import accept_message
from app.pipeline.runner import Outcome, execute
from app.pipeline.scheduled import release_held
from app.pipeline.schemas import MessageIn
from app.policy import get_policy
from app.review import approve
from tests.helpers import always_open_policy
from tests.pipeline.test_steps import actions, load

TZ = "Europe/Madrid"


def say(
    text: str,
    external_id: str,
    *,
    conversation_id: str | None = "conv-1",
    contact_id: str = "c-9",
    received_at: dt.datetime | None = None,
) -> str:
    payload: dict[str, Any] = {
        "external_id": external_id,
        "channel": "whatsapp",
        "contact": {"id": contact_id, "timezone": TZ, "locale": "es", "name": "Lucía"},
        "text": text,
        "conversation_id": conversation_id,
    }
    if received_at is not None:
        payload["received_at"] = received_at.isoformat()
    with session_scope() as session:
        message, _ = accept_message(
            session=session, message_in=MessageIn.model_validate(payload), actor="api"
        )
    return message.id


def run(message_id: str, *, now: dt.datetime | None = None) -> Outcome:
    """Run the message's steps in order until one does not advance."""
    outcome = Outcome("skipped")
    for _ in range(8):
        step = load(message_id).next_step
        if step is None:
            return outcome
        outcome = execute(step, message_id, now=now)
        if outcome.kind != "advanced":
            return outcome
    return outcome


def daytime() -> dt.datetime:
    """Noon today in the contact's time zone: the send window is open."""
    local = dt.datetime.now(ZoneInfo(TZ)).replace(hour=12, minute=0, second=0, microsecond=0)
    return local.astimezone(dt.UTC)


def night() -> dt.datetime:
    local = dt.datetime.now(ZoneInfo(TZ)).replace(hour=3, minute=0, second=0, microsecond=0)
    return local.astimezone(dt.UTC)


@pytest.fixture
def coalescing(monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str], tmp_path: Path) -> str:
    """The send window always open and the bundled 8-second quiet period for bursts."""
    path = always_open_policy(tmp_path, **{"coalesce_s = 0\n": "coalesce_s = 8\n"})
    keel_env["KEEL_POLICY"] = path
    monkeypatch.setenv("KEEL_POLICY", path)
    reset_settings()
    return path


def test_a_burst_is_answered_once_by_its_last_message(
    simulator: str, receiver: Any, coalescing: str
) -> None:
    ids = [
        say("hola", "wa-b1"),
        say("una pregunta", "wa-b2"),
        say("¿cuánto cuesta el curso intensivo de inglés?", "wa-b3"),
    ]
    for mid in ids:
        assert run(mid).kind == "waiting"  # ingested, then quiet for coalesce_s
    assert release_held() == 0  # nothing is due yet
    assert all(load(mid).state == "received" for mid in ids)
    later = utcnow() + dt.timedelta(seconds=9)
    assert release_held(now=later) == 3
    assert release_held(now=later) == 0  # claimed once
    for mid in ids:
        run(mid, now=later)
    first, second, last = (load(mid) for mid in ids)
    assert (first.state, first.reason, first.answered_by) == ("no_reply", "coalesced", last.id)
    assert (second.state, second.reason, second.answered_by) == ("no_reply", "coalesced", last.id)
    assert last.state == "sent"
    assert [p.body["message_id"] for p in receiver.accepted()] == [last.id]
    # the reply was drafted from the whole burst
    context = context_for(last, policy=get_policy())
    assert context.text.splitlines() == ["hola", "una pregunta", last.text]
    assert "classify" not in [e for e in actions(first.id) if e == "model_call"]


def test_a_follow_up_is_drafted_with_the_earlier_turns(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    first = say("¿Cuánto cuesta el curso intensivo de inglés?", "wa-f1")
    assert run(first).kind == "advanced" and load(first).state == "sent"
    second = say("¿y en reales?", "wa-f2")
    run(second)
    message = load(second)
    assert message.state == "sent", message.reason
    context = context_for(message, policy=get_policy())
    assert [t.role for t in context.history] == ["customer", "keel"]
    assert context.history[0].text == "¿Cuánto cuesta el curso intensivo de inglés?"
    assert context.history[1].text == load(first).reply_text
    assert context.text == "¿y en reales?"


def test_a_newer_message_supersedes_an_unsent_reply(simulator: str, receiver: Any) -> None:
    first = say("¿Cuánto cuesta el curso intensivo de inglés?", "wa-s1")
    run(first, now=night())
    assert load(first).state == "scheduled"  # waits for the send window
    second = say("perdón, quería decir el de portugués", "wa-s2")
    run(second, now=daytime())
    old, new = load(first), load(second)
    assert (old.state, old.reason, old.answered_by) == ("no_reply", "superseded", new.id)
    assert new.state == "sent"
    assert execute("deliver", first, now=daytime()).kind == "skipped"
    assert [p.body["message_id"] for p in receiver.accepted()] == [second]


def test_replies_of_one_conversation_leave_one_at_a_time_in_order(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    from app.conversations import Claim, claim_delivery

    first = say("¿Cuánto cuesta el curso intensivo de inglés?", "wa-o1")
    for step in ("ingest", "classify", "draft", "check"):
        execute(step, first)
    # the first reply's delivery starts (it takes the lease) and its worker dies
    assert claim_delivery(load(first), policy=get_policy(), now=utcnow()).claim == Claim.ok
    second = say("¿y el horario?", "wa-o2")
    for step in ("ingest", "classify", "draft", "check"):
        execute(step, second)
    assert load(first).state == "drafted"  # being sent: not withdrawn
    assert execute("deliver", second).kind == "retry"  # waits for the first
    assert receiver.accepted() == []
    assert execute("deliver", first).kind == "advanced"  # the rerun finishes it
    assert execute("deliver", second).kind == "advanced"
    assert [p.body["message_id"] for p in receiver.accepted()] == [first, second]
    with session_scope() as session:
        conversation = session.get(Conversation, load(second).conversation_ref)
        assert conversation is not None and conversation.lease_message_id is None


def test_an_opt_out_withdraws_unsent_replies_and_silences_the_contact(
    simulator: str, receiver: Any
) -> None:
    waiting = say("¿Cuánto cuesta el curso intensivo de inglés?", "wa-x1", conversation_id="c1")
    run(waiting, now=night())
    assert load(waiting).state == "scheduled"
    stop = say("BAJA", "wa-x2", conversation_id="c2")  # another conversation, same contact
    run(stop, now=daytime())
    assert (load(waiting).state, load(waiting).reason) == ("no_reply", "opted_out")
    confirmation = load(stop)
    assert confirmation.state == "sent" and confirmation.reason == "opt_out_confirmation"
    later = say("¿y el horario de los sábados?", "wa-x3", conversation_id="c1")
    run(later, now=daytime())
    assert (load(later).state, load(later).reason) == ("no_reply", "opted_out")
    assert [p.body["message_id"] for p in receiver.accepted()] == [stop]
    with session_scope() as session:
        assert opt_in(session=session, channel="whatsapp", contact_id="c-9", actor="api")
    again = say("¿cuánto cuesta el intensivo de inglés?", "wa-x4", conversation_id="c1")
    run(again, now=daytime())
    assert load(again).state == "sent"
    assert "opted_in" in actions(later)  # audited on the contact's latest message then


def test_a_review_action_hands_the_conversation_to_people_until_released(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    refund = say("quiero un reembolso de mi matrícula, por favor", "wa-h1")
    run(refund)
    assert load(refund).state == "escalated"
    with session_scope() as session:
        review = session.exec(select(Review).where(Review.message_id == refund)).one()
    assert review.id is not None
    approve(
        review_id=review.id,
        policy=get_policy(),
        text="Lo revisamos y te escribimos hoy.",
        reviewer="ana",
        via="page",
    )
    run(refund)
    assert load(refund).state == "sent"
    during = say("¿cuánto cuesta el curso intensivo de inglés?", "wa-h2")
    run(during)
    assert (load(during).state, load(during).escalation_reason) == ("escalated", "handoff")
    assert "classified" in actions(during)  # classified and audited, then escalated
    with session_scope() as session:
        release(session=session, channel="whatsapp", conversation_id="conv-1", actor="cli")
    after = say("¿y el horario?", "wa-h3")
    run(after)
    assert load(after).state == "sent"


def test_a_thirty_hour_old_whatsapp_message_is_not_answered_free_form(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    old = say(
        "¿Cuánto cuesta el curso intensivo de inglés?",
        "wa-w1",
        received_at=utcnow() - dt.timedelta(hours=30),
    )
    run(old)
    message = load(old)
    assert (message.state, message.escalation_reason) == ("escalated", "reply_window_closed")
    assert message.reply_text  # the draft is kept for the person who takes it
    assert receiver.accepted() == []


def test_a_reply_parked_past_the_window_escalates_instead_of_going_out(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    mid = say("¿Cuánto cuesta el curso intensivo de inglés?", "wa-w2")
    for step in ("ingest", "classify", "draft", "check"):
        execute(step, mid)
    # the reply waited (parked, scheduled) until the customer's 24 hours ran out
    too_late = utcnow() + dt.timedelta(hours=25)
    assert execute("deliver", mid, now=too_late).kind == "escalated"
    assert load(mid).escalation_reason == "reply_window_closed"
    assert receiver.accepted() == []


def test_messages_without_a_conversation_id_are_a_conversation_per_contact(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    a = say("¿Cuánto cuesta el curso intensivo de inglés?", "wa-k1", conversation_id=None)
    b = say("¿y en reales?", "wa-k2", conversation_id=None)
    assert load(a).conversation_ref == load(b).conversation_ref
    other = say("hola", "wa-k3", conversation_id=None, contact_id="c-other")
    assert load(other).conversation_ref != load(a).conversation_ref
    with session_scope() as session:
        rows = session.exec(select(Message).where(Message.conversation_id.is_(None))).all()  # type: ignore[union-attr]
    assert len(rows) == 3
