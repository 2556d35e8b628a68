"""`POST /v1/outcomes` (SPEC 12): recording, repeats, refusals and the audit event."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.api import create_app
from app.audit import record, timeline, verify_chain
from app.db import session_scope
from app.db.models import AuditEvent, Conversation, Message, MessageState, Outcome, utcnow
from app.outcomes import OutcomeIn, record_outcome
from app.policy import get_policy
from tests.helpers import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "external_id": f"crm-{uuid.uuid4().hex[:8]}",
        "channel": "whatsapp",
        "conversation_id": "conv-17",
        "kind": "enrolled",
        "value": "450.00",
        "currency": "EUR",
        "occurred_at": "2026-11-28T10:00:00Z",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def add_message(session: Session, conversation: Conversation, text: str) -> Message:
    """A customer message of `conversation` with its `received` event; it becomes the
    conversation's latest."""
    message = Message(
        external_id=f"wa-{uuid.uuid4().hex[:8]}",
        channel=conversation.channel,
        contact_id=conversation.contact_id,
        conversation_id=conversation.conversation_key,
        conversation_ref=conversation.id,
        text=text,
        state=MessageState.sent,
    )
    session.add(message)
    session.flush()
    record(session, message_id=message.id, action="received", actor="api", step="ingest")
    conversation.latest_message_id = message.id
    conversation.last_customer_at = utcnow()
    session.add(conversation)
    session.flush()
    return message


def new_conversation(
    *, key: str = "conv-17", channel: str = "whatsapp", texts: tuple[str, ...] = ("Hola",)
) -> tuple[str, list[str]]:
    """A conversation with messages, built directly: its id and its messages' ids."""
    with session_scope() as session:
        conversation = Conversation(
            channel=channel,
            conversation_key=key,
            contact_id="c-991",
            last_customer_at=utcnow(),
            latest_message_id="",
        )
        session.add(conversation)
        session.flush()
        ids = [add_message(session, conversation, text).id for text in texts]
        return conversation.id, ids


@pytest.fixture
def client(keel_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]


def outcome_events() -> list[AuditEvent]:
    with session_scope() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == "outcome")).all())


def test_an_outcome_is_accepted_and_the_same_external_id_again_returns_the_first_id(
    client: TestClient,
) -> None:
    # Given a conversation
    conversation_id, _ = new_conversation()
    # When the same outcome is posted twice
    first = client.post("/v1/outcomes", json=body(external_id="crm-771"), headers=AUTH)
    again = client.post("/v1/outcomes", json=body(external_id="crm-771"), headers=AUTH)
    # Then the first is accepted, the second answers its id, and nothing was added
    assert first.status_code == 202, first.text
    assert first.json() == {"id": first.json()["id"], "duplicate": False}
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    with session_scope() as session:
        rows = list(session.exec(select(Outcome)).all())
    assert len(rows) == 1 and len(outcome_events()) == 1
    stored = rows[0]
    assert (stored.conversation_ref, stored.kind, stored.value, stored.currency) == (
        conversation_id,
        "enrolled",
        Decimal("450.00"),
        "EUR",
    )
    assert stored.occurred_at == dt.datetime(2026, 11, 28, 10, tzinfo=dt.UTC)


def test_the_outcome_event_lands_on_the_conversations_latest_message_and_the_chain_verifies(
    client: TestClient,
) -> None:
    # Given a conversation of three messages
    _, ids = new_conversation(texts=("Hola", "¿cuánto cuesta?", "sí, me apunto"))
    # When an outcome names the first of them
    response = client.post(
        "/v1/outcomes", json=body(conversation_id=None, message_id=ids[0]), headers=AUTH
    )
    assert response.status_code == 202, response.text
    # Then its event is on the latest message, carries no free text, and chains
    (event,) = outcome_events()
    assert event.message_id == ids[-1] and event.actor == "api"
    assert event.detail == {
        "outcome_id": response.json()["id"],
        "kind": "enrolled",
        "value": "450.00",
        "currency": "EUR",
    }
    with session_scope() as session:
        for message_id in ids:
            assert verify_chain(timeline(session, message_id)) is None
        stored = session.get(Outcome, response.json()["id"])
    assert stored is not None and stored.message_id == ids[0]


def test_a_conversation_without_a_client_id_is_found_by_its_contact(client: TestClient) -> None:
    conversation_id, _ = new_conversation(key="contact:c-991", channel="sms")
    response = client.post(
        "/v1/outcomes",
        json=body(
            channel="sms", conversation_id="c-991", kind="booked_call", value=None, currency=None
        ),
        headers=AUTH,
    )
    assert response.status_code == 202, response.text
    with session_scope() as session:
        stored = session.get(Outcome, response.json()["id"])
    assert stored is not None and stored.conversation_ref == conversation_id
    assert stored.value is None and stored.currency is None
    assert outcome_events()[0].detail["value"] is None


def test_a_naive_occurred_at_is_taken_as_utc(client: TestClient) -> None:
    new_conversation()
    response = client.post(
        "/v1/outcomes", json=body(occurred_at="2026-11-28T10:00:00"), headers=AUTH
    )
    assert response.status_code == 202, response.text
    with session_scope() as session:
        stored = session.get(Outcome, response.json()["id"])
    assert stored is not None
    assert stored.occurred_at == dt.datetime(2026, 11, 28, 10, tzinfo=dt.UTC)


def test_an_unknown_kind_gets_422(client: TestClient) -> None:
    new_conversation()
    response = client.post("/v1/outcomes", json=body(kind="bought_a_yacht"), headers=AUTH)
    assert_error(response, 422, "validation_error")
    assert "enrolled" in response.json()["error"]["message"]
    assert outcome_events() == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"value": 450},  # a JSON number, not a decimal string
        {"value": 450.0},
        {"value": "NaN"},
        {"value": "Infinity"},
        {"value": "-5.00"},
        {"value": "1.234"},  # more than 2 decimals
        {"value": "1e3"},
        {"value": " 450.00"},
        {"value": "1000000000.00"},  # absurdly large
        {"value": True},
        {"currency": None},  # a value without its currency
        {"currency": "eur"},
        {"currency": "EURO"},
        {"currency": "XYZ"},  # not an ISO 4217 code
        {"message_id": "3f1c0a52-0000-0000-0000-000000000000"},  # both targets
        {"conversation_id": None},  # no target
        {"occurred_at": "1970-01-01T00:00:00Z"},
        {"occurred_at": "9999-12-31T00:00:00Z"},
        {"occurred_at": 1764324000},
        {"occurred_at": "tomorrow"},
        {"external_id": ""},
        {"external_id": "x" * 201},
        {"channel": "fax"},
        {"kind": ""},
        {"note": "unknown fields are refused"},
        {"conversation_id": "conv\x00-17"},
    ],
)
def test_an_invalid_outcome_gets_422(client: TestClient, overrides: dict[str, Any]) -> None:
    new_conversation()
    data = body()
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    response = client.post("/v1/outcomes", json=data, headers=AUTH)
    assert_error(response, 422, "validation_error")
    assert outcome_events() == []


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_json_number_as_value_gets_422(client: TestClient, literal: str) -> None:
    new_conversation()
    raw = (
        '{"external_id": "crm-1", "channel": "whatsapp", "conversation_id": "conv-17", '
        f'"kind": "enrolled", "value": {literal}, "currency": "EUR"}}'
    )
    response = client.post(
        "/v1/outcomes", content=raw.encode(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    "overrides",
    [
        {"conversation_id": "conv-404"},
        {"channel": "email"},  # the conversation lives on whatsapp
        {"conversation_id": None, "message_id": str(uuid.uuid4())},
    ],
)
def test_an_unknown_conversation_or_message_gets_404(
    client: TestClient, overrides: dict[str, Any]
) -> None:
    new_conversation()
    data = body()
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    assert_error(client.post("/v1/outcomes", json=data, headers=AUTH), 404, "not_found")
    assert outcome_events() == []


def test_a_message_on_another_channel_is_not_found(client: TestClient) -> None:
    _, ids = new_conversation()
    response = client.post(
        "/v1/outcomes",
        json=body(channel="sms", conversation_id=None, message_id=ids[0]),
        headers=AUTH,
    )
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_KEY}"}]
)
def test_an_outcome_without_a_valid_key_gets_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    new_conversation()
    response = client.post("/v1/outcomes", json=body(), headers=headers)
    assert_error(response, 401, "unauthorized")
    assert outcome_events() == []


def _record_in_threads(bodies: list[OutcomeIn]) -> list[tuple[str, bool]]:
    """Record each body from its own thread and session, all starting together."""
    start = threading.Barrier(len(bodies))
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def run(outcome_in: OutcomeIn) -> None:
        try:
            start.wait()
            with session_scope() as session:
                outcome, duplicate = record_outcome(
                    session=session, outcome_in=outcome_in, policy=get_policy(), actor="api"
                )
            results.append((outcome.id, duplicate))
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_concurrent_repeats_of_one_external_id_store_one_outcome(
    keel_env: dict[str, str],
) -> None:
    new_conversation()
    results = _record_in_threads([OutcomeIn.model_validate(body(external_id="crm-9"))] * 4)
    assert len({outcome_id for outcome_id, _ in results}) == 1
    assert sorted(duplicate for _, duplicate in results) == [False, True, True, True]
    assert len(outcome_events()) == 1


def test_concurrent_outcomes_of_one_conversation_all_chain_on_its_latest_message(
    keel_env: dict[str, str],
) -> None:
    _, ids = new_conversation()
    bodies = [OutcomeIn.model_validate(body()) for _ in range(4)]
    results = _record_in_threads(bodies)
    assert sorted(duplicate for _, duplicate in results) == [False] * 4
    with session_scope() as session:
        events = timeline(session, ids[-1])
    assert [e.action for e in events] == ["received"] + ["outcome"] * 4
    assert verify_chain(events) is None


def test_an_outcome_finds_the_conversation_intake_made_for_messages_posted_to_the_api(
    client: TestClient,
) -> None:
    # Given two messages of conv-17 and one without a conversation id, through the API
    def message(external_id: str, conversation_id: str | None) -> str:
        payload: dict[str, Any] = {
            "external_id": external_id,
            "channel": "whatsapp",
            "contact": {"id": "c-991"},
            "text": "Hola, ¿cuánto cuesta el curso intensivo?",
        }
        if conversation_id is not None:
            payload["conversation_id"] = conversation_id
        response = client.post("/v1/messages", json=payload, headers=AUTH)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    message("wa-1", "conv-17")
    latest = message("wa-2", "conv-17")
    alone = message("wa-3", None)
    # When outcomes name the conversation, and the contact's conversation
    by_id = client.post("/v1/outcomes", json=body(), headers=AUTH)
    by_contact = client.post("/v1/outcomes", json=body(conversation_id="c-991"), headers=AUTH)
    # Then each event is on its conversation's latest message
    assert by_id.status_code == by_contact.status_code == 202
    events = {e.detail["outcome_id"]: e.message_id for e in outcome_events()}
    assert events == {by_id.json()["id"]: latest, by_contact.json()["id"]: alone}
