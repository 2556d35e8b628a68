"""Sentry on real processes: an error inside a task reaches Sentry with the trace of the
API request that started the message, and with no message text or contact id in it."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import session_scope
from app.db.models import Message
from app.demo import procs
from tests.helpers import API_KEY, poll
from tests.observability.sentry_receiver import SentryReceiver

TEXT = "Hola, soy Zanahoria Quetzal, ¿cuánto cuesta el curso intensivo?"
CONTACT_ID = "c-ornitorrinco-5521"
CONTACT_NAME = "Zanahoria Quetzal"
EMAIL = "zanahoria.quetzal@example.org"


@pytest.fixture
def sentry() -> Iterator[SentryReceiver]:
    receiver = SentryReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def stack(
    keel_env: dict[str, str],
    simulator: str,
    open_window_policy: str,
    sentry: SentryReceiver,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[str]:
    """A worker and the API with Sentry on; the webhook URL has a port no client can parse,
    so the last step raises an exception Keel does not handle (httpx.InvalidURL)."""
    keel_env["KEEL_WEBHOOK_URL"] = "http://127.0.0.1:notaport/hook"
    keel_env["KEEL_WEBHOOK_SECRET"] = "sentry-test-secret"
    env = {
        **os.environ,
        **keel_env,
        "SENTRY_DSN": sentry.dsn,
        "SENTRY_TRACES_SAMPLE_RATE": "1.0",
        "SENTRY_ENVIRONMENT": "test",
    }
    group = procs.Processes(tmp_path)
    port = procs.free_port()
    try:
        group.start("worker", procs.worker_argv(concurrency=1, name="sentry"), env)
        group.start(
            "api",
            procs.python_argv("-m", "uvicorn", "app.api:app", "--port", str(port)),
            env,
        )
        base = f"http://127.0.0.1:{port}"
        procs.wait_for_http(f"{base}/healthz")
        yield base
    finally:
        group.stop_all()


@pytest.mark.slow
def test_a_task_error_reaches_sentry_with_the_api_trace_and_without_text_or_contact(
    stack: str, sentry: SentryReceiver, tmp_path: Path
) -> None:
    # Given a request that carries a trace of its own into the API
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    message = {
        "external_id": "wa-sentry-1",
        "channel": "whatsapp",
        "contact": {"id": CONTACT_ID, "name": CONTACT_NAME, "timezone": "Europe/Madrid"},
        "text": f"{TEXT} Escríbeme a {EMAIL}",
    }
    response = httpx.post(
        f"{stack}/v1/messages",
        json=message,
        headers={"Authorization": f"Bearer {API_KEY}", "sentry-trace": f"{trace_id}-{span_id}-1"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    # When the message runs ingest, classify, draft and check, and deliver raises
    def error_events() -> list[dict[str, Any]]:
        return [e for e in sentry.items("event") if e.get("exception")]

    events = poll(error_events)
    assert events, "no error event reached the Sentry receiver"

    # Then the error carries the API request's trace, the message id and the step
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "InvalidURL"
    assert event["contexts"]["trace"]["trace_id"] == trace_id
    assert event["tags"]["message_id"] == message_id
    assert event["tags"]["step"] == "deliver"
    job = event["extra"]["celery-job"]
    # one worker consumes every queue: ingest's task ran on to deliver (app/pipeline/task.py)
    assert job["task_name"] == "keel.ingest" and job["args"] == "[Filtered]"

    # Every step of the message continued the same trace (a transaction per task, a
    # `keel.step` span per step in it)
    def steps_in_trace() -> set[str]:
        return {
            span.get("description")
            for t in sentry.items("transaction")
            if t["contexts"]["trace"]["trace_id"] == trace_id
            for span in t.get("spans", [])
            if span.get("op") == "keel.step"
        }

    steps = poll(lambda: steps_in_trace() >= {"ingest", "classify", "draft", "check", "deliver"})
    assert steps, sorted(t["transaction"] for t in sentry.items("transaction"))

    # And nothing the customer wrote, nor who they are, is anywhere in what was sent
    with session_scope() as session:
        stored = session.get(Message, message_id)
        assert stored is not None and stored.reply_text
        reply = stored.reply_text
    raw = sentry.raw().decode("utf-8")
    assert message_id in raw and trace_id in raw  # the bytes were read, not skipped
    for secret in (TEXT, "Zanahoria", "Quetzal", CONTACT_ID, EMAIL, reply, reply[:40]):
        assert secret not in raw, secret
    # And the worker's log lines about the message carry the same trace id
    lines = [
        json.loads(ln)
        for ln in (tmp_path / "worker.log").read_text("utf-8").splitlines()
        if ln.startswith("{") and message_id in ln
    ]
    assert lines and {ln.get("trace_id") for ln in lines} == {trace_id}
