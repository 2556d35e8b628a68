"""Conversions in `keel report` (SPEC 12), on a small hand-built set of conversations."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from app.audit import record
from app.cli import cli
from app.db import session_scope
from app.db.migrate import upgrade
from app.db.models import Conversation, Message, MessageState, Outcome
from app.policy import BUNDLED_POLICY_PATH, get_policy, load_policy
from app.reporting import build_report, converting_kinds
from app.reporting.conversions import conversion_figures, who_answered

runner = CliRunner()
T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


class Builder:
    """Conversations, messages (with their `classified` and `model_call` events) and
    outcomes, written straight to the tables."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.conversations: dict[str, Conversation] = {}

    def message(
        self,
        key: str,
        *,
        created: dt.datetime,
        cost: str,
        state: MessageState = MessageState.sent,
        tier: str | None = "fast",
        intent: str = "pricing",
        language: str = "es",
        classified_by: str = "fast",
        provider: str | None = "anthropic",
    ) -> Message:
        conversation = self.conversations.get(key)
        if conversation is None:
            conversation = Conversation(
                channel="whatsapp",
                conversation_key=key,
                contact_id=f"c-{key}",
                last_customer_at=created,
                latest_message_id="",
                created_at=created,
            )
            self.conversations[key] = conversation
        message = Message(
            external_id=f"wa-{uuid.uuid4().hex[:8]}",
            channel="whatsapp",
            contact_id=conversation.contact_id,
            conversation_id=key,
            conversation_ref=conversation.id,
            text="...",
            state=state,
            tier=tier,
            intent=intent,
            language=language,
            reply_provider=provider,
            cost_usd=Decimal(cost),
            created_at=created,
            updated_at=created,
        )
        conversation.latest_message_id = message.id
        conversation.last_customer_at = created
        self.session.add(conversation)
        self.session.add(message)
        self.session.flush()
        record(self.session, message_id=message.id, action="received", actor="api")
        record(
            self.session,
            message_id=message.id,
            action="classified",
            actor="worker",
            detail={"intent": intent, "language": language, "tier": classified_by},
        )
        record(
            self.session,
            message_id=message.id,
            action="model_call",
            actor="worker",
            detail={
                "keel.task": "draft",
                "keel.tier": tier or "fast",
                "gen_ai.provider.name": provider or "anthropic",
                "gen_ai.request.model": "m",
                "keel.status": "ok",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 10,
                "keel.cost_usd": cost,
            },
        )
        return message

    def outcome(
        self,
        key: str,
        kind: str,
        *,
        created: dt.datetime,
        value: str | None = None,
        currency: str | None = None,
    ) -> None:
        self.session.add(
            Outcome(
                external_id=f"crm-{uuid.uuid4().hex[:8]}",
                channel="whatsapp",
                conversation_ref=self.conversations[key].id,
                kind=kind,
                value=None if value is None else Decimal(value),
                currency=currency,
                created_at=created,
            )
        )
        self.session.flush()


def build_set(session: Session) -> None:
    """Five conversions in four conversations, one loss, and one conversion long ago."""
    b = Builder(session)
    # A: a burst of two, answered once by the fast tier; the local tier classified it
    b.message("A", created=at(0), cost="0.0005", state=MessageState.no_reply, tier=None)
    b.message("A", created=at(0.1), cost="0.0010", classified_by="local")
    b.outcome("A", "enrolled", created=at(60), value="450.00", currency="EUR")
    # B: a person edited the standard tier's draft; a call, then an enrolment in BRL
    b.message(
        "B",
        created=at(1),
        cost="0.0020",
        tier="standard",
        intent="enrolment",
        language="pt",
        provider="human",
    )
    b.outcome("B", "booked_call", created=at(30))
    b.outcome("B", "enrolled", created=at(90), value="1200.00", currency="BRL")
    # C: the flagship tier answered a complaint; the customer was lost
    b.message("C", created=at(2), cost="0.0100", tier="flagship", intent="complaint")
    b.outcome("C", "lost", created=at(40))
    # D: the fast tier answered in English; a "thanks" went unanswered before the sale,
    # and a later message (after the outcome) must not take the credit
    b.message("D", created=at(3), cost="0.0030", language="en", classified_by="local")
    b.message(
        "D",
        created=at(4),
        cost="0.0004",
        state=MessageState.no_reply,
        tier=None,
        intent="thanks",
        language="en",
    )
    b.outcome("D", "enrolled", created=at(50), value="300.00", currency="USD")
    b.message("D", created=at(70), cost="0.0050", tier="flagship", intent="other")
    # E: long ago
    b.message("E", created=LONG_AGO, cost="0.0001", intent="schedule")
    b.outcome("E", "enrolled", created=LONG_AGO, value="100.00", currency="EUR")


@pytest.fixture
def hand_built(keel_env: dict[str, str]) -> None:
    with session_scope() as session:
        build_set(session)


def tally(count: int, **value: str) -> dict[str, Any]:
    return {"count": count, "value": value}


def test_the_converting_kinds_are_the_policy_kinds_but_lost() -> None:
    assert converting_kinds(load_policy(BUNDLED_POLICY_PATH)) == ("enrolled", "booked_call")


def test_who_answered_is_a_human_when_a_person_wrote_the_reply_else_the_drafting_tier() -> None:
    assert who_answered(state="sent", tier="standard", reply_provider="human") == "human"
    assert who_answered(state="sent", tier="fast", reply_provider="anthropic") == "fast"
    assert who_answered(state="no_reply", tier="fast", reply_provider=None) == "none"


def test_conversions_are_credited_to_the_message_that_carried_the_reply(
    hand_built: None,
) -> None:
    with session_scope() as session:
        report = build_report(session, policy=get_policy())
    c = report.conversions.as_dict()
    assert c["kinds"] == ["enrolled", "booked_call"]
    assert c["count"] == 5 and c["not_converted"] == 1 and c["conversations"] == 4
    assert c["value"] == {"BRL": "1200.00", "EUR": "550.00", "USD": "300.00"}
    assert c["by_kind"] == {
        "enrolled": tally(4, BRL="1200.00", EUR="550.00", USD="300.00"),
        "booked_call": tally(1),
    }
    assert c["by_tier"] == {
        "fast": tally(3, EUR="550.00", USD="300.00"),
        "standard": tally(2, BRL="1200.00"),
    }
    assert c["by_intent"] == {
        "enrolment": tally(2, BRL="1200.00"),
        "pricing": tally(2, EUR="450.00", USD="300.00"),
        "schedule": tally(1, EUR="100.00"),
    }
    assert c["by_language"] == {
        "es": tally(2, EUR="550.00"),
        "pt": tally(2, BRL="1200.00"),
        "en": tally(1, USD="300.00"),
    }
    assert c["by_answerer"] == {
        "fast": tally(3, EUR="550.00", USD="300.00"),
        "human": tally(2, BRL="1200.00"),
    }
    assert c["classified_locally"] == 2


def test_the_model_cost_per_conversion_counts_every_message_of_converted_conversations(
    hand_built: None,
) -> None:
    with session_scope() as session:
        report = build_report(session, policy=get_policy())
    c = report.conversions
    # A 0.0015 + B 0.0020 + D 0.0084 (the message after the sale too) + E 0.0001
    assert c.conversations_cost_usd == Decimal("0.0120")
    assert c.cost_per_conversion_usd == Decimal("0.0024")
    # Every model call of the report, C's lost conversation included
    assert report.cost_usd == Decimal("0.0220")
    assert c.overall_cost_per_conversion_usd == Decimal("0.0044")


def test_since_counts_the_outcomes_recorded_since_then(hand_built: None) -> None:
    with session_scope() as session:
        c = conversion_figures(
            session, policy=get_policy(), since=T0, overall_cost_usd=Decimal("0.0220")
        )
    assert (c.count, c.conversations, c.not_converted) == (4, 3, 1)
    assert c.total.value == {
        "EUR": Decimal("450.00"),
        "BRL": Decimal("1200.00"),
        "USD": Decimal("300.00"),
    }
    assert c.conversations_cost_usd == Decimal("0.0119")
    assert c.cost_per_conversion_usd == Decimal("0.002975")
    assert c.overall_cost_per_conversion_usd == Decimal("0.0055")


def test_no_conversions_give_no_cost_per_conversion(keel_env: dict[str, str]) -> None:
    with session_scope() as session:
        c = build_report(session, policy=get_policy()).conversions
    assert c.count == 0 and c.cost_per_conversion_usd is None
    assert c.as_dict()["overall_cost_per_conversion_usd"] is None


def test_keel_report_prints_the_conversions_and_json_carries_the_same(hand_built: None) -> None:
    result = runner.invoke(cli, ["report", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)["conversions"]
    with session_scope() as session:
        expected = build_report(session, policy=get_policy()).conversions.as_dict()
    assert printed == expected
    assert printed["cost_per_conversion_usd"] == "0.00240000"
    later = json.loads(runner.invoke(cli, ["report", "--since", "2999-01-01", "--json"]).stdout)
    assert later["conversions"]["count"] == 0
    human = runner.invoke(cli, ["report"])
    assert human.exit_code == 0, human.output
    assert "Conversions by answerer" in human.stdout and "Model cost per conversion" in human.stdout


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[str]:
    upgrade(sqlite_url)
    yield sqlite_url


def test_the_same_figures_come_out_of_sqlite(sqlite_db: str, keel_env: dict[str, str]) -> None:
    with session_scope(sqlite_db) as session:
        build_set(session)
    with session_scope(sqlite_db) as session:
        c = conversion_figures(
            session, policy=get_policy(), since=None, overall_cost_usd=Decimal("0.0220")
        )
    assert (c.count, c.conversations, c.classified_locally) == (5, 4, 2)
    assert c.conversations_cost_usd == Decimal("0.0120")
    assert {k: t.count for k, t in c.by_answerer.items()} == {"fast": 3, "human": 2}
