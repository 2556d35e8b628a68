"""`/v1/conversations/...`, `/v1/contacts/.../opt-in`, and a message's `reason` and
`answered_by` (SPEC 11)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.audit import timeline
from app.db import session_scope
from app.pipeline.runner import execute
from tests.api.test_messages import AUTH, assert_error, body


@pytest.fixture
def client(keel_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, **overrides: Any) -> str:
    response = client.post("/v1/messages", json=body(**overrides), headers=AUTH)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_a_conversation_reads_back_with_its_turns_in_order(client: TestClient) -> None:
    first = post(client, external_id="wa-c1", text="hola")
    second = post(client, external_id="wa-c2", text="¿cuánto cuesta el intensivo?")
    response = client.get("/v1/conversations/whatsapp/conv-17", headers=AUTH)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["channel"] == "whatsapp" and payload["conversation_id"] == "conv-17"
    assert payload["contact_id"] == "c-991" and payload["status"] == "active"
    assert [t["message_id"] for t in payload["turns"]] == [first, second]
    assert {t["role"] for t in payload["turns"]} == {"customer"}


def test_a_conversation_without_an_id_is_found_by_its_contact(client: TestClient) -> None:
    post(client, external_id="wa-n1", conversation_id=None)
    response = client.get("/v1/conversations/whatsapp/c-991", headers=AUTH)
    assert response.status_code == 200 and response.json()["conversation_id"] == "c-991"


def test_an_unknown_conversation_is_a_json_404(client: TestClient) -> None:
    assert_error(client.get("/v1/conversations/whatsapp/nope", headers=AUTH), 404, "not_found")
    assert_error(
        client.post("/v1/conversations/whatsapp/nope/handoff", headers=AUTH), 404, "not_found"
    )


def test_an_unknown_channel_is_a_422_and_no_key_a_401(client: TestClient) -> None:
    assert_error(client.get("/v1/conversations/fax/conv-17", headers=AUTH), 422, "validation_error")
    assert_error(client.get("/v1/conversations/whatsapp/conv-17"), 401, "unauthorized")
    assert_error(client.post("/v1/contacts/whatsapp/c-991/opt-in"), 401, "unauthorized")


def test_a_handoff_then_a_release_are_audited_and_change_the_status(
    client: TestClient,
) -> None:
    mid = post(client, external_id="wa-h1")
    handed = client.post("/v1/conversations/whatsapp/conv-17/handoff", headers=AUTH)
    assert handed.status_code == 200 and handed.json()["status"] == "handoff"
    assert handed.json()["handoff_until"]
    released = client.post("/v1/conversations/whatsapp/conv-17/release", headers=AUTH)
    assert released.json()["status"] == "active"
    with session_scope() as session:
        actions = [e.action for e in timeline(session, mid)]
    assert actions[-2:] == ["handoff", "released"]


def test_opting_in_an_unknown_contact_is_404_and_a_known_one_is_audited(
    client: TestClient,
) -> None:
    assert_error(client.post("/v1/contacts/whatsapp/nobody/opt-in", headers=AUTH), 404, "not_found")
    mid = post(client, external_id="wa-o1")
    response = client.post("/v1/contacts/whatsapp/c-991/opt-in", headers=AUTH)
    assert response.status_code == 200 and response.json()["opted_out"] is False
    with session_scope() as session:
        assert [e.action for e in timeline(session, mid)][-1] == "opted_in"


def test_an_opted_out_contact_shows_in_its_conversation_and_its_message_says_why(
    client: TestClient, simulator: str
) -> None:
    stop = post(client, external_id="wa-s1", text="BAJA")
    execute("ingest", stop)
    conversation = client.get("/v1/conversations/whatsapp/conv-17", headers=AUTH).json()
    assert conversation["status"] == "opted_out"
    later = post(client, external_id="wa-s2", text="¿y el horario?")
    execute("ingest", later)
    message = client.get(f"/v1/messages/{later}", headers=AUTH).json()
    assert (message["state"], message["reason"]) == ("no_reply", "opted_out")
    assert message["answered_by"] is None


def test_a_coalesced_message_points_at_the_message_that_answers_it(
    client: TestClient, simulator: str, receiver: Any, open_window_policy: str
) -> None:
    # written now: the sample body's received_at is days old, past WhatsApp's 24 hours
    first = post(client, external_id="wa-b1", text="hola", received_at=None)
    last = post(
        client,
        external_id="wa-b2",
        text="¿cuánto cuesta el curso intensivo de inglés?",
        received_at=None,
    )
    for mid in (first, last):
        execute("ingest", mid)
    assert execute("classify", first).kind == "advanced"  # it was not the latest
    for step in ("classify", "draft", "check", "deliver"):
        execute(step, last)
    coalesced = client.get(f"/v1/messages/{first}", headers=AUTH).json()
    assert (coalesced["state"], coalesced["reason"]) == ("no_reply", "coalesced")
    assert coalesced["answered_by"] == last
    carrier = client.get(f"/v1/messages/{last}", headers=AUTH).json()
    assert carrier["state"] == "sent" and carrier["answered_by"] == last
