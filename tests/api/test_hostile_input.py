"""Hostile bodies never reach a 500: non-finite numbers, absurd times, deep nesting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from tests.api.test_messages import AUTH

BASE = '{"external_id": "x-1", "channel": "web", "contact": {"id": "c"}, "text": "hola", %s}'


@pytest.fixture
def client(keel_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    "extra",
    [
        '"metadata": {"a": NaN}',
        '"metadata": {"a": Infinity}',
        '"metadata": {"a": [1, -Infinity]}',
        '"metadata": {"a": "\\u0000"}',
        '"metadata": ' + '{"a": ' * 30 + "1" + "}" * 30,
        '"received_at": "9999-12-31T23:59:59Z"',
        '"received_at": "0001-01-01T00:00:00Z"',
        '"received_at": 1e308',
        '"received_at": 1732700000',
        '"received_at": "' + "9" * 5000 + '"',
        '"received_at": ' + "9" * 5000,
    ],
)
def test_a_hostile_body_gets_a_json_4xx_and_stores_nothing(client: TestClient, extra: str) -> None:
    response = client.post(
        "/v1/messages",
        content=BASE % extra,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["code"] in ("validation_error", "bad_request", "malformed_json")
    again = client.post(
        "/v1/messages",
        json={"external_id": "x-1", "channel": "web", "contact": {"id": "c"}, "text": "hola"},
        headers=AUTH,
    )
    assert again.status_code == 202 and again.json()["duplicate"] is False  # nothing stored


def test_a_recent_received_at_and_finite_metadata_are_accepted(client: TestClient) -> None:
    body = BASE % '"received_at": "2026-11-30T10:00:00+01:00", "metadata": {"n": 1.5, "l": [1]}'
    response = client.post(
        "/v1/messages", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text
