"""Log lines are JSON with ids, step and outcome, and never the customer's words."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.broker import enqueue
from app.db import session_scope
from app.db.models import Message
from app.demo import procs
from app.observability.logging import JsonFormatter, bind_task_context, unbind_task_context
from app.pipeline.intake import accept_message
from app.pipeline.schemas import MessageIn
from app.policy import get_policy

TEXT = "Buenas, me llamo Berenjena Tucán y quiero el curso de portugués"
CONTACT_ID = "c-tapir-8830"


def line_of(record: logging.LogRecord) -> dict[str, Any]:
    return dict(json.loads(JsonFormatter().format(record)))


def make_record(msg: str, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("keel.pipeline", logging.WARNING, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_a_line_carries_the_known_ids_and_drops_any_other_extra() -> None:
    record = make_record(
        "dead-lettered",
        message_id="m-1",
        step="ingest",
        reason="invalid_input",
        text=TEXT,
        contact_id=CONTACT_ID,
    )
    line = line_of(record)
    assert line["msg"] == "dead-lettered" and line["level"] == "warning"
    assert line["logger"] == "keel.pipeline" and line["ts"].endswith("+00:00")
    assert (line["message_id"], line["step"], line["reason"]) == ("m-1", "ingest", "invalid_input")
    assert TEXT not in json.dumps(line) and CONTACT_ID not in json.dumps(line)


def test_a_task_context_fills_in_what_the_call_did_not_pass() -> None:
    token = bind_task_context(message_id="m-2", step="draft", task_id="t-2")
    try:
        line = line_of(make_record("model call failed", outcome="retry"))
    finally:
        unbind_task_context(token)
    assert {k: line[k] for k in ("message_id", "step", "task_id", "outcome")} == {
        "message_id": "m-2",
        "step": "draft",
        "task_id": "t-2",
        "outcome": "retry",
    }
    assert "message_id" not in line_of(make_record("after the task"))


def test_an_exception_is_logged_by_type_and_stack_not_by_its_message() -> None:
    try:
        raise ValueError(f"could not parse {TEXT}")
    except ValueError:
        record = make_record("parse failed")
        record.exc_info = sys.exc_info()
    line = line_of(record)
    assert line["exc_type"] == "ValueError" and "test_logging.py" in line["stack"]
    assert TEXT not in json.dumps(line)


def test_celerys_task_failure_line_names_the_exception_by_type_only() -> None:
    try:
        raise ValueError(f"could not parse {TEXT}")
    except ValueError as exc:
        context = {"name": "keel.draft", "id": "t-9", "description": "raised unexpected",
                   "exc": repr(exc), "args": ["m-9"], "kwargs": {}}  # fmt: skip
        record = logging.LogRecord(
            "celery.app.trace", logging.ERROR, __file__, 1,
            "Task %(name)s[%(id)s] %(description)s: %(exc)s", (context,), sys.exc_info(),
        )  # fmt: skip
    line = line_of(record)
    assert line["msg"] == "Task keel.draft[t-9] raised unexpected: ValueError"
    assert TEXT not in json.dumps(line)


def test_e_mail_addresses_and_phone_numbers_in_a_message_are_filtered() -> None:
    line = line_of(make_record("bounced: ana.souza@example.com.br at +55 11 91234-5678"))
    assert line["msg"] == "bounced: [Filtered] at [Filtered]"


@pytest.mark.slow
def test_a_worker_logs_each_step_as_json_with_message_id_and_outcome_and_no_text(
    keel_env: dict[str, str], simulator: str, open_window_policy: str, tmp_path: Path
) -> None:
    # Given a real worker logging at INFO, and a message with recognisable words
    argv = procs.worker_argv(concurrency=1, name="logs")
    argv[argv.index("WARNING")] = "INFO"
    group = procs.Processes(tmp_path)
    group.start("worker", argv, {**os.environ, **keel_env})
    try:
        payload = {
            "external_id": "wa-logs-1",
            "channel": "whatsapp",
            "contact": {"id": CONTACT_ID, "name": "Berenjena Tucán", "timezone": "Europe/Madrid"},
            "text": TEXT,
        }
        with session_scope() as session:
            message, _ = accept_message(
                session=session, message_in=MessageIn.model_validate(payload), actor="api"
            )
        enqueue("ingest", message.id, tier=None, policy=get_policy())
        # When it goes through every step to the log channel
        deadline = time.monotonic() + 60
        state = "received"
        while time.monotonic() < deadline and state != "sent":
            time.sleep(0.25)
            with session_scope() as session:
                stored = session.get(Message, message.id)
                assert stored is not None
                state, reply = stored.state, stored.reply_text or ""
        assert state == "sent"
    finally:
        group.stop_all()
    # Then every log record is a JSON line; each step says its outcome for this message
    text = (tmp_path / "worker.log").read_text("utf-8")
    records = [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]
    finished = {
        r["step"]: r["outcome"]
        for r in records
        if r["msg"] == "step finished" and r.get("message_id") == message.id
    }
    assert finished == {
        "ingest": "advanced",
        "classify": "advanced",
        "draft": "advanced",
        "check": "advanced",
        "deliver": "advanced",
    }
    delivered = [r for r in records if r["msg"] == "delivered to log channel"]
    assert [(r["message_id"], r["step"], r["component"]) for r in delivered] == [
        (message.id, "deliver", "worker")
    ]
    assert all(r["task_id"] for r in delivered)
    # And neither the customer's words, nor who they are, nor the reply are in the log
    for secret in (TEXT, "Berenjena", CONTACT_ID, reply[:40]):
        assert secret not in text, secret
    # nor a line per HTTP request with its URL (the model calls are audited instead)
    assert "HTTP Request" not in text and simulator not in text
