"""`/v1/reviews`: list, approve (checked: no override over HTTP), reject; a decided review
is a 409 no-op. Reviewer keys only: an ingest key gets 403, and the audit names the
reviewer by the key, never by the request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.api import create_app
from app.audit import timeline
from app.config import reset_settings
from app.db import session_scope
from app.db.models import AuditEvent, Message, Review
from app.pipeline.runner import execute
from tests.helpers import API_KEY, REVIEWER_KEY, REVIEWER_NAME, queued_ids
from tests.review.conftest import Escalate

AUTH = {"Authorization": f"Bearer {REVIEWER_KEY}"}
INGEST = {"Authorization": f"Bearer {API_KEY}"}
GOOD = "¡Hola! El curso intensivo de inglés cuesta 450 €. ¿Te reservamos plaza?"


@pytest.fixture
def client(keel_env: dict[str, str], open_window_policy: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def state_of(message_id: str) -> tuple[Message, Review, list[AuditEvent]]:
    with session_scope() as session:
        message = session.get(Message, message_id)
        review = session.exec(select(Review).where(Review.message_id == message_id)).one()
        assert message is not None
        return message, review, timeline(session, message_id)


def test_the_queue_lists_pending_reviews_with_what_a_reviewer_needs(
    client: TestClient, escalated: Escalate
) -> None:
    mid, rid = escalated()

    pending = client.get("/v1/reviews", headers=AUTH)
    approved = client.get("/v1/reviews?status=approved", headers=AUTH)

    assert pending.status_code == 200
    [review] = pending.json()["reviews"]
    assert review["id"] == rid and review["message_id"] == mid
    assert review["status"] == "pending" and review["reason"].startswith("guardrail:prices")
    assert review["message_text"].startswith("Hola") and "399" in review["draft_text"]
    assert approved.json() == {"reviews": []}
    assert client.get("/v1/reviews").status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/reviews"),
        ("GET", "/v1/reviews?status=all"),
        ("POST", "/v1/reviews/{rid}/approve"),
        ("POST", "/v1/reviews/{rid}/reject"),
        ("POST", "/v1/reviews/999999/approve"),
    ],
)
def test_an_ingest_key_is_refused_on_every_review_route_and_nothing_moves(
    client: TestClient, escalated: Escalate, method: str, path: str
) -> None:
    mid, rid = escalated(draft=GOOD)
    url = path.format(rid=rid)

    as_ingest = client.request(method, url, json={} if method == "POST" else None, headers=INGEST)
    unknown = client.request(method, url, headers={"Authorization": "Bearer not-a-key-at-all"})
    no_key = client.request(method, url)

    assert as_ingest.status_code == 403
    assert as_ingest.json()["error"]["code"] == "forbidden"
    assert unknown.status_code == 401 and no_key.status_code == 401
    assert unknown.json()["error"]["code"] == "unauthorized"
    message, review, events = state_of(mid)
    assert message.state == "escalated" and review.status == "pending"
    assert "reviewed" not in [e.action for e in events]


def test_a_reviewer_key_opens_only_the_review_endpoints(client: TestClient) -> None:
    response = client.post("/v1/messages", json={}, headers=AUTH)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_an_approved_edit_that_passes_the_checks_is_delivered_once(
    client: TestClient, escalated: Escalate, receiver: Any, keel_env: dict[str, str]
) -> None:
    mid, rid = escalated()

    response = client.post(f"/v1/reviews/{rid}/approve", json={"text": GOOD}, headers=AUTH)

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "drafted" and response.json()["edited"] is True
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.deliver") == [mid]
    assert execute("deliver", mid).kind == "advanced"
    message, review, events = state_of(mid)
    assert message.state == "sent" and message.reply_text == GOOD
    assert review.status == "approved" and review.final_text == GOOD
    assert review.reviewer == REVIEWER_NAME
    assert [p.body["text"] for p in receiver.accepted()] == [GOOD]
    [reviewed] = [e for e in events if e.action == "reviewed"]
    assert reviewed.actor == "human"
    assert reviewed.detail == {
        "decision": "approved",
        "review_id": rid,
        "reviewer": REVIEWER_NAME,
        "via": "api",
        "edited": True,
        "override": False,
        "overridden": [],
        "chars": len(GOOD),
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("El curso cuesta 399 €, te lo dejo así.", "prices:price_not_in_catalog"),
        ("Escríbeme a mi móvil 612 345 678 y lo vemos.", "contact_data:foreign_phone"),
        ("Te hacemos un reembolso completo si no te gusta.", "promises:promise"),
    ],
)
def test_an_edit_that_fails_a_blocking_check_is_refused_and_nothing_moves(
    client: TestClient, escalated: Escalate, text: str, code: str
) -> None:
    mid, rid = escalated()

    response = client.post(f"/v1/reviews/{rid}/approve", json={"text": text}, headers=AUTH)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "guardrail_blocked"
    assert code in [f"{v['check']}:{v['reason']}" for v in error["violations"]]
    message, review, events = state_of(mid)
    assert message.state == "escalated" and review.status == "pending"
    assert "reviewed" not in [e.action for e in events]


@pytest.mark.parametrize(
    "body",
    [{}, {"override": True}, {"text": "Son 399 €.", "override": True}, {"reviewer": "lead"}],
)
def test_a_blocked_draft_cannot_be_forced_over_http_nor_signed_with_another_name(
    client: TestClient, escalated: Escalate, body: dict[str, Any]
) -> None:
    mid, rid = escalated()  # its draft quotes 399 €, not a catalog price

    response = client.post(f"/v1/reviews/{rid}/approve", json=body, headers=AUTH)

    assert response.status_code == 422
    code = response.json()["error"]["code"]
    assert code == ("guardrail_blocked" if body == {} else "validation_error")
    message, review, events = state_of(mid)
    assert message.state == "escalated" and review.status == "pending"
    assert "reviewed" not in [e.action for e in events]


def test_the_audit_names_the_reviewer_by_the_key_used(
    monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str], escalated: Escalate
) -> None:
    luis_key = "luis-front-desk-key-0123456789"
    monkeypatch.setenv("KEEL_REVIEWER_KEYS", f"ana:{REVIEWER_KEY}, luis:{luis_key}")
    reset_settings()
    _, approved = escalated(draft=GOOD)
    rejected_mid, rejected = escalated(draft=GOOD)
    luis = {"Authorization": f"Bearer {luis_key}"}

    with TestClient(create_app()) as client:
        ok = client.post(f"/v1/reviews/{approved}/approve", json={}, headers=luis)
        no = client.post(f"/v1/reviews/{rejected}/reject", json={"reason": "spam"}, headers=AUTH)

    assert ok.status_code == 200 and ok.json()["review"]["reviewer"] == "luis"
    assert no.status_code == 200 and no.json()["review"]["reviewer"] == "ana"
    _, review, events = state_of(rejected_mid)
    assert review.reviewer == "ana"
    [reviewed] = [e.detail for e in events if e.action == "reviewed"]
    assert reviewed == {
        "decision": "rejected",
        "review_id": rejected,
        "reviewer": "ana",
        "via": "api",
        "note": "spam",
    }


def test_a_decided_review_cannot_be_decided_again(client: TestClient, escalated: Escalate) -> None:
    mid, rid = escalated(draft=GOOD)

    first = client.post(f"/v1/reviews/{rid}/reject", json={"reason": "tone"}, headers=AUTH)
    again = client.post(f"/v1/reviews/{rid}/approve", json={}, headers=AUTH)
    twice = client.post(f"/v1/reviews/{rid}/reject", json={}, headers=AUTH)

    assert first.status_code == 200 and first.json()["state"] == "rejected"
    assert again.status_code == 409 and twice.status_code == 409
    message, review, events = state_of(mid)
    assert message.state == "rejected" and review.status == "rejected"
    assert [e.detail["decision"] for e in events if e.action == "reviewed"] == ["rejected"]


def test_unknown_reviews_and_reviews_with_nothing_to_send_are_refused(
    client: TestClient, escalated: Escalate
) -> None:
    _, rid = escalated(draft=None, reason="low_confidence")

    missing = client.post("/v1/reviews/999999/approve", json={}, headers=AUTH)
    # An empty JSON body is the same as no body (the guard wants a JSON content type).
    empty = client.post(
        f"/v1/reviews/{rid}/approve",
        content=b"",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    unknown_field = client.post(f"/v1/reviews/{rid}/approve", json={"txt": "x"}, headers=AUTH)

    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "nothing_to_send"
    assert unknown_field.status_code == 422


def test_a_decision_may_be_posted_without_any_body(keel_env: dict[str, str]) -> None:
    with TestClient(create_app()) as client:
        response = client.post("/v1/reviews/999999/reject", headers=AUTH)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
