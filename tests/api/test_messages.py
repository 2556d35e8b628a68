"""The ingress API: every error case of SPEC 4, duplicates, the batch form, reading back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from tests.helpers import API_KEY, queued_ids

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "external_id": f"wa-{uuid.uuid4().hex[:8]}",
        "channel": "whatsapp",
        "contact": {"id": "c-991", "name": "Lucía", "timezone": "America/Bogota", "locale": "es"},
        "text": "Hola, ¿cuánto cuesta el curso intensivo de inglés?",
        "conversation_id": "conv-17",
        "received_at": "2026-11-27T03:12:00Z",
        "metadata": {},
    }
    base.update(overrides)
    return base


@pytest.fixture
def client(keel_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]


def test_a_valid_message_is_accepted_and_its_id_is_queued(
    client: TestClient, keel_env: dict[str, str]
) -> None:
    response = client.post("/v1/messages", json=body(), headers=AUTH)
    assert response.status_code == 202
    payload = response.json()
    assert payload["status"] == "received" and payload["duplicate"] is False
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.ingest") == [payload["id"]]


def test_the_same_channel_and_external_id_again_returns_the_first_id_and_queues_nothing(
    client: TestClient, keel_env: dict[str, str]
) -> None:
    first = client.post("/v1/messages", json=body(external_id="wa-1"), headers=AUTH).json()
    again = client.post("/v1/messages", json=body(external_id="wa-1"), headers=AUTH)
    assert again.status_code == 200
    assert again.json() == {"id": first["id"], "status": "received", "duplicate": True}
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.ingest") == [first["id"]]
    other_channel = client.post(
        "/v1/messages", json=body(external_id="wa-1", channel="sms"), headers=AUTH
    )
    assert other_channel.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": "Bearer "},
        {"Authorization": API_KEY},
    ],
)
def test_a_request_without_a_valid_key_gets_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    assert_error(client.post("/v1/messages", json=body(), headers=headers), 401, "unauthorized")


def test_reading_a_message_needs_a_key_too(client: TestClient) -> None:
    assert_error(client.get(f"/v1/messages/{uuid.uuid4()}"), 401, "unauthorized")


def test_no_configured_keys_refuses_every_write(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import reset_settings

    monkeypatch.setenv("KEEL_API_KEYS", "")
    reset_settings()
    assert_error(client.post("/v1/messages", json=body(), headers=AUTH), 401, "unauthorized")


def test_malformed_json_gets_400(client: TestClient) -> None:
    response = client.post(
        "/v1/messages",
        content=b'{"external_id": "x", ',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_gets_415(client: TestClient, ctype: str | None) -> None:
    headers = dict(AUTH)
    if ctype:
        headers["Content-Type"] = ctype
    response = client.post("/v1/messages", content=json.dumps(body()).encode(), headers=headers)
    assert_error(response, 415, "unsupported_media_type")


def test_a_body_over_the_limit_gets_413(client: TestClient) -> None:
    big = json.dumps(body(metadata={"pad": "x" * 70_000})).encode()
    response = client.post(
        "/v1/messages", content=big, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


def test_a_chunked_body_over_the_limit_gets_413(client: TestClient) -> None:
    big = json.dumps(body(metadata={"pad": "x" * 70_000})).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    response = client.post(
        "/v1/messages", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \n\t "}, "text"),
        ({"text": "x" * 8001}, "text"),
        ({"text": "hola\x00"}, "text"),
        ({"text": 42}, "text"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 201}, "external_id"),
        ({"channel": "telegram"}, "channel"),
        ({"contact": {"name": "no id"}}, "contact.id"),
        ({"contact": {"id": "c-1", "timezone": "Mars/Olympus"}}, "contact.timezone"),
        ({"contact": {"id": "c-1", "timezone": "Europe"}}, "contact.timezone"),
        ({"contact": {"id": "c-1", "timezone": "../../etc/passwd"}}, "contact.timezone"),
        ({"contact": {"id": "c-1", "timezone": ""}}, "contact.timezone"),
        ({"contact": {"id": "c-1", "shoe_size": 42}}, "contact.shoe_size"),
        ({"surprise": True}, "surprise"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"received_at": "yesterday"}, "received_at"),
    ],
)
def test_schema_errors_get_422_naming_the_field(
    client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/messages", json=body(**overrides), headers=AUTH)
    assert_error(response, 422, "validation_error")
    assert field in response.json()["error"]["message"]


@pytest.mark.parametrize("payload", [[], "text", 12, None, [body()]])
def test_a_body_that_is_not_an_object_gets_422(client: TestClient, payload: Any) -> None:
    response = client.post(
        "/v1/messages",
        content=json.dumps(payload).encode(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation_error")


def test_a_batch_accepts_many_and_reports_duplicates(
    client: TestClient, keel_env: dict[str, str]
) -> None:
    messages = [body(external_id=f"em-{i}", channel="email") for i in range(20)]
    messages.append(body(external_id="em-3", channel="email"))
    response = client.post("/v1/messages:batch", json={"messages": messages}, headers=AUTH)
    assert response.status_code == 202, response.text
    payload = response.json()
    assert payload["accepted"] == 20 and payload["duplicates"] == 1
    assert payload["results"][-1]["id"] == payload["results"][3]["id"]
    assert len(queued_ids(keel_env["KEEL_NAMESPACE"], "keel.ingest")) == 20


def test_a_batch_may_be_a_bare_array(client: TestClient) -> None:
    response = client.post("/v1/messages:batch", json=[body(), body()], headers=AUTH)
    assert response.status_code == 202 and response.json()["accepted"] == 2


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"messages": []},
        {"messages": [body() for _ in range(501)]},
        {"messages": [body(), body(text="")]},
        {"messages": [body()], "extra": 1},
        "nope",
    ],
)
def test_a_bad_batch_gets_422_and_stores_nothing(
    client: TestClient, keel_env: dict[str, str], payload: Any
) -> None:
    response = client.post("/v1/messages:batch", json=payload, headers=AUTH)
    assert_error(response, 422, "validation_error")
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.ingest") == []


def test_a_stored_message_reads_back_with_its_timeline(client: TestClient) -> None:
    created = client.post("/v1/messages", json=body(), headers=AUTH).json()
    response = client.get(f"/v1/messages/{created['id']}", headers=AUTH)
    assert response.status_code == 200
    payload = response.json()
    assert payload["id"] == created["id"] and payload["state"] == "received"
    assert [e["action"] for e in payload["timeline"]] == ["received"]
    assert payload["timeline"][0]["actor"] == "api"


@pytest.mark.parametrize("message_id", [str(uuid.uuid4()), "not-a-uuid", "x" * 300])
def test_an_unknown_message_gets_404(client: TestClient, message_id: str) -> None:
    assert_error(client.get(f"/v1/messages/{message_id}", headers=AUTH), 404, "not_found")


def test_health_and_readiness_answer_without_a_key(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readiness_fails_when_redis_does_not_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import reset_settings

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    reset_settings()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"] != "ok"


def test_a_wrong_method_gets_a_json_405(client: TestClient) -> None:
    response = client.delete("/v1/messages/abc", headers=AUTH)
    assert_error(response, 405, "method_not_allowed")


def test_a_database_that_does_not_answer_gets_503_with_retry_after(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import reset_settings
    from app.db import reset_engines

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/keel")
    reset_settings()
    reset_engines()
    response = client.post("/v1/messages", json=body(), headers=AUTH)
    assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "2"


def test_a_burst_beyond_the_database_pool_gets_503_busy_and_stores_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.db.engine as engine_module
    from app.db import get_engine, reset_engines

    # Given a process whose one database connection stays busy past the pool's timeout
    monkeypatch.setattr(engine_module, "POOL_SIZE", 1)
    monkeypatch.setattr(engine_module, "_max_overflow", 0)
    monkeypatch.setattr(engine_module, "POOL_TIMEOUT_S", 0.2)
    reset_engines()
    sent = body()
    with get_engine().connect():
        # When a message arrives
        response = client.post("/v1/messages", json=sent, headers=AUTH)
    # Then the client is told to retry, not that the server broke
    assert_error(response, 503, "busy")
    assert response.headers["Retry-After"] == "2"
    # And the retry, with a connection free again, is accepted as a new message
    again = client.post("/v1/messages", json=sent, headers=AUTH)
    assert again.status_code == 202, again.text
    reset_engines()
