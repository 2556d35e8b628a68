"""`keel trace ID` answers "what happened to message X": a readable table, and with
`--json` exactly what `GET /v1/messages/{id}` returns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.api import create_app
from app.cli.main import cli
from app.db import session_scope
from app.pipeline.intake import accept_message
from app.pipeline.runner import execute
from app.pipeline.schemas import MessageIn
from tests.helpers import API_KEY

runner = CliRunner()


@pytest.fixture
def sent_message(simulator: str, receiver: Any, open_window_policy: str) -> Iterator[str]:
    payload = {
        "external_id": "wa-trace-1",
        "channel": "whatsapp",
        "contact": {"id": "c-trace", "timezone": "America/Bogota", "locale": "es"},
        "text": "Hola, ¿cuánto cuesta el curso intensivo de inglés?",
    }
    with session_scope() as session:
        message, _ = accept_message(
            session=session, message_in=MessageIn.model_validate(payload), actor="api"
        )
    for step in ("ingest", "classify", "draft", "check", "deliver"):
        assert execute(step, message.id).kind == "advanced", step
    yield message.id


def test_trace_json_is_the_api_document_and_the_table_shows_each_call(sent_message: str) -> None:
    # Given a message that went all the way to `sent`
    with TestClient(create_app()) as client:
        api = client.get(
            f"/v1/messages/{sent_message}", headers={"Authorization": f"Bearer {API_KEY}"}
        ).json()
    # When the operator traces it as JSON, they get the API's document
    as_json = runner.invoke(cli, ["trace", sent_message, "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == api
    assert api["state"] == "sent"
    # And the table has one row per event, with tier, model, latency, tokens and cost
    table = runner.invoke(cli, ["trace", sent_message])
    assert table.exit_code == 0
    for header in ("time", "step", "actor", "tier", "model", "ms", "tokens", "cost", "verdict"):
        assert header in table.stdout
    calls = [e["detail"] for e in api["timeline"] if e["action"] == "model_call"]
    assert len(calls) == 2
    for call in calls:
        assert call["gen_ai.request.model"] in table.stdout
        tokens = f"{call['gen_ai.usage.input_tokens']}/{call['gen_ai.usage.output_tokens']}"
        assert tokens in table.stdout
    assert "guardrail" in table.stdout and "sent" in table.stdout


def test_tracing_an_unknown_message_exits_1(keel_env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["trace", "00000000-0000-0000-0000-000000000000"])
    assert result.exit_code == 1 and "no message" in result.stdout
