"""Trace export end to end (SPEC 13): the API, a worker and beat as real processes, the
simulator through the real SDKs, exporting over OTLP/HTTP to a local receiver that
decodes the protobuf. One trace per message across the API and the worker; every model
call with the GenAI attributes and its real token counts; no message text or contact id
in the export unless KEEL_TRACE_CONTENT=true; and a collector that is down loses spans,
never a message."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, func, select

from app.db import session_scope
from app.db.models import AuditEvent, Message
from app.demo import procs
from app.demo.run import load_inbox
from tests.helpers import API_KEY, pending_states
from tests.otlp_receiver import ReceivedSpan, Receiver, running_otlp_receiver

MESSAGES = 50
SALT = "e2e-trace-salt-0f3a"
GENAI = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.response.id",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.conversation.id",
    "keel.cost_usd",
    "keel.tier",
)


@contextmanager
def keel_stack(
    tmp_path: Path,
    env: dict[str, str],
    *,
    pool: str,
    worker_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """The API, a worker and beat as real processes; yields the API's base URL."""
    group = procs.Processes(tmp_path)
    port = procs.free_port()
    try:
        worker = procs.worker_argv(concurrency=4, name="trace-e2e", pool=pool)
        group.start("worker", worker, {**env, **(worker_env or {})})
        group.start("beat", procs.beat_argv(tmp_path / "beat-schedule"), env)
        api = procs.python_argv(
            "-m", "uvicorn", "app.api:app", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        )  # fmt: skip
        group.start("api", api, env)
        base = f"http://127.0.0.1:{port}"
        procs.wait_for_http(f"{base}/healthz")
        yield base
    finally:
        group.stop_all()
        for log in tmp_path.glob("*.log"):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-4000:]}")


def contact_of(item: dict[str, Any]) -> dict[str, str]:
    """An inbox item's contact."""
    return cast(dict[str, str], item["contact"])


def tracing_env(keel_env: dict[str, str], endpoint: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **keel_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: the test waits less for the last spans
        "KEEL_TRACE_SALT": SALT,
        **extra,
    }


def post_all(base: str, inbox: list[dict[str, Any]]) -> None:
    """Most one by one, the last ten in one batch."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for item in inbox[:-10]:
            assert client.post("/v1/messages", json=item).status_code == 202
        response = client.post("/v1/messages:batch", json=inbox[-10:])
        assert response.status_code == 202, response.text


def wait_for(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def settled() -> bool:
    with session_scope() as session:
        pending = session.exec(
            select(func.count()).where(col(Message.state).in_(pending_states()))
        ).one()
    return int(pending) == 0


def records() -> tuple[list[Message], list[AuditEvent]]:
    with session_scope() as session:
        messages = list(session.exec(select(Message)).all())
        events = list(session.exec(select(AuditEvent)).all())
    return messages, events


def by_trace(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    traces: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return traces


def all_exported(receiver: Receiver) -> bool:
    """Every model call audited has its span, and every message its last step's."""
    messages, events = records()
    spans = receiver.snapshot()
    calls = sum(1 for s in spans if s.name.startswith("chat "))
    if calls < sum(1 for e in events if e.action == "model_call"):
        return False
    traces = by_trace(spans)
    for message in messages:
        names = {s.name for s in traces.get(message.trace_id, [])}
        if "keel.message" not in names:
            return False
        if message.state == "sent" and "keel.deliver" not in names:
            return False
    return True


@pytest.mark.slow
def test_fifty_messages_are_fifty_traces_across_the_api_and_prefork_workers(
    keel_env: dict[str, str],
    simulator: str,
    receiver: Any,
    open_window_policy: str,
    tmp_path: Path,
) -> None:
    # Given Anthropic's haiku failing (its calls fail over to OpenAI), and Keel exporting
    # to a local OTLP/HTTP receiver from a prefork worker (each child exports after the fork)
    rule = {"when": {"provider": "anthropic", "model": "claude-haiku-*"}, "fail": {"status": 529}}
    httpx.post(f"{simulator}/_sim/rules", json=rule).raise_for_status()
    inbox = load_inbox(MESSAGES)
    with running_otlp_receiver() as otlp:
        env = tracing_env(keel_env, otlp.url)
        with keel_stack(tmp_path, env, pool="prefork") as base:
            # When fifty messages are posted and settle
            post_all(base, inbox)
            wait_for(settled, timeout_s=180, what="every message to settle")
            wait_for(lambda: all_exported(otlp), timeout_s=60, what="the last spans")
        spans = otlp.snapshot()
        raw = otlp.raw()
    messages, events = records()
    assert len(messages) == MESSAGES
    traces = by_trace(spans)
    # Then each message is one trace of its own, its id the one the audit and row carry
    assert len({m.trace_id for m in messages}) == MESSAGES
    audited = defaultdict(set)
    for event in events:
        if event.message_id:
            audited[event.message_id].add(event.trace_id)
    for message in messages:
        assert audited[message.id] == {message.trace_id}
        trace = traces[message.trace_id]
        # spanning the API and the worker
        assert {s.service for s in trace} >= {"keel-web", "keel-worker"}, message.id
        roots = [s for s in trace if s.name == "keel.message"]
        assert len(roots) == 1
        root = roots[0]
        for step in (s for s in trace if s.name in ("keel.ingest", "keel.classify")):
            assert step.parent_span_id == root.span_id
    # And every model call span carries the GenAI attributes with the real token counts
    # and the completion's own id, as the audit recorded them
    calls = [s for s in spans if s.name.startswith("chat ")]
    model_calls = [e.detail for e in events if e.action == "model_call"]
    assert len(calls) == len(model_calls) >= MESSAGES
    audited_ok = {d["gen_ai.response.id"]: d for d in model_calls if "gen_ai.response.id" in d}
    for call in calls:
        if call.attributes.get("error.type"):
            assert call.attributes["gen_ai.provider.name"] == "anthropic"  # the failing haiku
            continue
        for name in GENAI:
            assert name in call.attributes, (name, call.attributes)
        detail = audited_ok[call.attributes["gen_ai.response.id"]]
        assert call.attributes["gen_ai.usage.input_tokens"] == detail["gen_ai.usage.input_tokens"]
        out = call.attributes["gen_ai.usage.output_tokens"]
        assert out == detail["gen_ai.usage.output_tokens"] > 0
    # And guardrail verdicts and failovers travel as span events
    event_names = {name for s in spans for name, _ in s.events}
    assert {"guardrail", "failover", "classified"} <= event_names
    # And no message text, contact id or contact name appears anywhere in the export
    for item in inbox:
        for secret in (str(item["text"]), contact_of(item)["id"], contact_of(item)["name"]):
            assert secret.encode() not in raw, secret
    for message in messages:
        if message.reply_text:
            assert message.reply_text.encode() not in raw


@pytest.mark.slow
def test_with_trace_content_on_the_prompts_and_replies_are_exported(
    keel_env: dict[str, str],
    simulator: str,
    receiver: Any,
    open_window_policy: str,
    tmp_path: Path,
) -> None:
    inbox = load_inbox(12)
    with running_otlp_receiver() as otlp:
        env = tracing_env(keel_env, otlp.url, KEEL_TRACE_CONTENT="true")
        with keel_stack(tmp_path, env, pool="threads") as base:
            post_all(base, inbox)
            wait_for(settled, timeout_s=120, what="every message to settle")
            wait_for(lambda: all_exported(otlp), timeout_s=60, what="the last spans")
        raw = otlp.raw()
        spans = otlp.snapshot()
    messages, _ = records()
    classified = [m for m in messages if m.intent]
    assert classified
    assert any(m.text.encode() in raw for m in classified)
    answers = [
        part["content"]
        for s in spans
        if "gen_ai.output.messages" in s.attributes
        for turn in json.loads(s.attributes["gen_ai.output.messages"])
        for part in turn["parts"]
    ]
    replies = [m.reply_text for m in messages if m.state == "sent" and m.reply_text]
    assert replies and any(reply in answer for reply in replies for answer in answers)
    # the contact stays a salted hash even so
    for item in inbox:
        assert contact_of(item)["id"].encode() not in raw


def spans_dropped(metrics_url: str) -> float:
    text = httpx.get(metrics_url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            dropped = sample.name == "keel_trace_spans_dropped_total"
            if dropped and sample.labels.get("reason") == "export_failed":
                return float(sample.value)
    return 0.0


@pytest.mark.slow
def test_a_collector_that_is_down_loses_spans_but_not_one_message(
    keel_env: dict[str, str],
    simulator: str,
    receiver: Any,
    open_window_policy: str,
    tmp_path: Path,
) -> None:
    # Given the exporter pointed at a port where nothing listens
    closed = f"http://127.0.0.1:{procs.free_port()}"
    metrics_port = procs.free_port()
    inbox = load_inbox(MESSAGES)
    env = tracing_env(keel_env, closed)
    worker_env = {"KEEL_METRICS_PORT": str(metrics_port)}
    with keel_stack(tmp_path, env, pool="threads", worker_env=worker_env) as base:
        # When fifty messages are posted
        post_all(base, inbox)
        # Then every one settles as it would without tracing
        wait_for(settled, timeout_s=180, what="every message to settle")
        # And the worker counts the spans it could not deliver
        metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_for(lambda: spans_dropped(metrics) > 0, timeout_s=60, what="dropped spans counted")
    messages, _ = records()
    assert len(messages) == MESSAGES
    assert {m.state for m in messages} <= {"sent", "no_reply", "escalated"}
    assert sum(m.state == "sent" for m in messages) > MESSAGES // 2
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "Traceback" not in worker_log
    # one warning a minute at most, not one per span or per batch
    assert 1 <= worker_log.count("trace export failed") <= 2
    assert "Failed to export" not in worker_log
