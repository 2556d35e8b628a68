"""Trace export (SPEC 13), in one process with an in-memory exporter: one trace per
message whose id is the one the audit carries, the API's request span, a span per step
and per model call with the GenAI attributes and the completion's own id, audit events as
span events, nothing personal unless KEEL_TRACE_CONTENT=true, and a batch's messages in
traces of their own. Across real processes and OTLP/HTTP: tests/e2e/test_tracing_e2e.py."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from sqlmodel import select

from app.api import create_app
from app.config import reset_settings
from app.db import session_scope
from app.db.models import AuditEvent, Message
from app.demo.run import load_inbox
from app.observability import tracing
from app.pipeline.runner import execute
from tests.helpers import API_KEY

ROOT = Path(__file__).resolve().parents[2]
SALT = "trace-salt-5d1c9a7e"
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


def contact_of(item: dict[str, Any]) -> dict[str, str]:
    """An inbox item's contact."""
    return cast(dict[str, str], item["contact"])


def start(monkeypatch: pytest.MonkeyPatch, *, content: bool) -> InMemorySpanExporter:
    monkeypatch.setenv("KEEL_TRACE_SALT", SALT)
    monkeypatch.setenv("KEEL_TRACE_CONTENT", "true" if content else "false")
    reset_settings()
    exporter = InMemorySpanExporter()
    assert tracing.init_tracing("web", exporter=exporter)
    return exporter


@pytest.fixture
def spans(
    simulator: str, receiver: Any, open_window_policy: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InMemorySpanExporter]:
    exporter = start(monkeypatch, content=False)
    yield exporter
    tracing.shutdown_tracing()


@pytest.fixture
def spans_with_content(
    simulator: str, receiver: Any, open_window_policy: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InMemorySpanExporter]:
    exporter = start(monkeypatch, content=True)
    yield exporter
    tracing.shutdown_tracing()


def post(client: TestClient, path: str, body: Any) -> Any:
    response = client.post(path, json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code in (200, 202), response.text
    return response.json()


def run_until_done(message_id: str) -> None:
    step: str | None = "ingest"
    for _ in range(12):
        outcome = execute(step or "", message_id)
        if outcome.kind != "advanced" or not outcome.next_step:
            return
        step = outcome.next_step


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def every_value(span: ReadableSpan) -> str:
    """Everything a span carries that could hold text, as one string."""
    parts = [span.name, json.dumps(dict(span.attributes or {}), ensure_ascii=False)]
    for event in span.events:
        parts.append(event.name)
        parts.append(json.dumps(dict(event.attributes or {}), ensure_ascii=False))
    parts.append(json.dumps(dict(span.resource.attributes), ensure_ascii=False))
    return "\n".join(parts)


def test_one_message_is_one_trace_from_the_request_through_every_step_and_model_call(
    spans: InMemorySpanExporter,
) -> None:
    # Given one message posted to the API and every step run
    item = load_inbox(1)[0]
    with TestClient(create_app()) as client:
        message_id = post(client, "/v1/messages", item)["id"]
    run_until_done(message_id)
    with session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None
        events = session.exec(select(AuditEvent).where(AuditEvent.message_id == message_id)).all()
    finished = spans.get_finished_spans()
    # Then every span is in one trace, the one the message row and its audit carry
    assert {hex_trace(s) for s in finished} == {message.trace_id}
    assert {e.trace_id for e in events} == {message.trace_id}
    by_name = {s.name: s for s in finished}
    request = by_name["POST /v1/messages"]
    root = by_name["keel.message"]
    assert request.parent is None and (request.attributes or {})["http.response.status_code"] == 202
    assert root.parent is not None and root.parent.span_id == request.context.span_id
    assert root.context.span_id == tracing.derived_span_id(root.context.trace_id)
    steps = [s for s in finished if s.name.startswith("keel.") and s.name != "keel.message"]
    assert {s.name for s in steps} >= {"keel.ingest", "keel.classify", "keel.draft"}
    for step in steps:
        assert step.parent is not None and step.parent.span_id == root.context.span_id
    # And every model call is a child of its step with the GenAI attributes, the real
    # token counts and the completion's own id, as the audit recorded them
    calls = [s for s in finished if s.name.startswith("chat ")]
    audited = [e.detail for e in events if e.action == "model_call"]
    assert len(calls) == len(audited) >= 2
    step_ids = {s.context.span_id for s in steps}
    for call, detail in zip(
        sorted(calls, key=lambda s: s.start_time or 0),
        audited,
        strict=True,
    ):
        attrs = call.attributes or {}
        assert call.parent is not None and call.parent.span_id in step_ids
        for name in GENAI:
            assert name in attrs, name
        assert attrs["gen_ai.response.id"] == detail["gen_ai.response.id"]
        assert str(attrs["gen_ai.response.id"]).startswith(("msg_", "chatcmpl-"))
        assert attrs["gen_ai.response.id"] != detail.get("keel.provider_request_id")
        assert attrs["gen_ai.usage.input_tokens"] == detail["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] == detail["gen_ai.usage.output_tokens"] > 0
        assert attrs["gen_ai.conversation.id"] == message.conversation_ref
        assert attrs["langfuse.session.id"] == message.conversation_ref
        assert attrs["langfuse.user.id"] == tracing.contact_hash(
            contact_of(item)["id"], SALT.encode()
        )
    # And guardrail verdicts are events of the check step
    check = by_name["keel.check"]
    verdicts = [e for e in check.events if e.name == "guardrail"]
    assert verdicts and all("keel.check" in (e.attributes or {}) for e in verdicts)
    # And no message text, contact id or name is anywhere in the export
    exported = "\n".join(every_value(s) for s in finished)
    for secret in (str(item["text"]), contact_of(item)["id"], contact_of(item)["name"]):
        assert secret not in exported
    assert message.reply_text and message.reply_text not in exported


def test_with_trace_content_on_prompts_and_replies_are_exported(
    spans_with_content: InMemorySpanExporter,
) -> None:
    item = load_inbox(1)[0]
    with TestClient(create_app()) as client:
        message_id = post(client, "/v1/messages", item)["id"]
    run_until_done(message_id)
    calls = [s for s in spans_with_content.get_finished_spans() if s.name.startswith("chat ")]
    prompts = [json.loads(str((s.attributes or {})["gen_ai.input.messages"])) for s in calls]
    assert any(str(item["text"]) in m[1]["parts"][0]["content"] for m in prompts)
    assert all("gen_ai.output.messages" in (s.attributes or {}) for s in calls)
    # the contact's id stays hashed even so
    exported = "\n".join(every_value(s) for s in calls)
    assert contact_of(item)["id"] not in exported


def test_each_message_of_a_batch_has_a_trace_of_its_own_linked_to_the_request(
    spans: InMemorySpanExporter,
) -> None:
    inbox = load_inbox(3)
    with TestClient(create_app()) as client:
        results = post(client, "/v1/messages:batch", {"messages": inbox})["results"]
    ids = [r["id"] for r in results]
    with session_scope() as session:
        traces = [session.get(Message, i).trace_id for i in ids]  # type: ignore[union-attr]
    assert len(set(traces)) == 3
    finished = spans.get_finished_spans()
    request = next(s for s in finished if s.name == "POST /v1/messages:batch")
    roots = [s for s in finished if s.name == "keel.message"]
    assert sorted(hex_trace(r) for r in roots) == sorted(traces)
    assert hex_trace(request) in traces  # the first message continues the request's trace
    for root in roots:
        if hex_trace(root) != hex_trace(request):
            assert [link.context.span_id for link in root.links] == [request.context.span_id]


def test_with_no_endpoint_nothing_of_the_tracing_sdk_is_loaded() -> None:
    probe = (
        "import os\n"
        "for name in list(os.environ):\n"
        "    if name.startswith('OTEL_'): del os.environ[name]\n"
        "import app.api, tasks\n"
        "from app.api import create_app\n"
        "from app.observability import tracing\n"
        "create_app()\n"
        "assert not tracing.init_tracing('worker')\n"
        "import sys\n"
        "print([m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace', "
        "'opentelemetry.exporter'))])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


class StuckExporter(SpanExporter):
    """A collector that does not answer until told to."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.release.wait(timeout=30)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def dropped(reason: str) -> float:
    value = REGISTRY.get_sample_value("keel_trace_spans_dropped_total", {"reason": reason})
    return value or 0.0


def test_a_stuck_collector_drops_and_counts_spans_instead_of_holding_the_step_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the batch processor Keel uses, a queue of 8 spans, and a collector stuck on
    # its first batch
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "8")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
    exporter = StuckExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(tracing._batch_processor(exporter))
    tracer = provider.get_tracer("test")
    before = dropped("queue_full")
    # When a step ends 100 spans
    for i in range(100):
        tracer.start_span(f"span-{i}").end()
    # Then every one returned (none waited on the collector), and the ones that found
    # the queue full were dropped and counted
    lost = dropped("queue_full") - before
    assert lost >= 100 - 8 - 4
    # And once the collector answers, what was queued still leaves
    exporter.release.set()
    provider.shutdown()
    assert exporter.exported + lost == 100


def test_a_sampled_trace_is_kept_whole_and_a_dropped_one_leaves_nothing(
    simulator: str, receiver: Any, open_window_policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one trace in two kept (the standard sampler variables), decided per trace id
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    exporter = start(monkeypatch, content=False)
    try:
        # When sixteen messages are posted and run
        inbox = load_inbox(16)
        with TestClient(create_app()) as client:
            ids = [post(client, "/v1/messages", item)["id"] for item in inbox]
        for message_id in ids:
            run_until_done(message_id)
    finally:
        tracing.shutdown_tracing()
    with session_scope() as session:
        traces = {session.get(Message, i).trace_id for i in ids}  # type: ignore[union-attr]
    finished = exporter.get_finished_spans()
    by_trace: dict[str, set[str]] = {}
    for span in finished:
        by_trace.setdefault(hex_trace(span), set()).add(span.name)
    # Then some traces were kept and some dropped, each kept one whole (the request, the
    # message and the worker's steps), and every message still has its own trace id
    assert len(traces) == 16
    kept = set(by_trace) & traces
    assert 0 < len(kept) < 16
    for trace_id in kept:
        assert {"POST /v1/messages", "keel.message", "keel.ingest"} <= by_trace[trace_id]
    assert set(by_trace) <= traces


class DownCollector(SpanExporter):
    """A collector that refuses every export, counting how often it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.asked += 1
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_after_a_failed_export_batches_are_dropped_unsent_until_the_pause_ends() -> None:
    # Given the exporter Keel wraps around OTLP, and a collector that is down
    collector = DownCollector()
    exporter = tracing._counting_exporter(collector)
    failed, down = dropped("export_failed"), dropped("collector_down")
    # When three batches of 10 spans come one after another
    batch: list[Any] = [object()] * 10
    results = [exporter.export(batch) for _ in range(3)]
    # Then the collector was asked once; the next two batches were dropped unsent (no
    # encoding, no connection) and every span counted
    assert results == [SpanExportResult.FAILURE] * 3
    assert collector.asked == 1
    assert dropped("export_failed") - failed == 10
    assert dropped("collector_down") - down == 20
