"""OpenTelemetry traces of every message (SPEC 13), exported over OTLP/HTTP (protobuf).

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set:
then nothing of the SDK is imported and every helper here is a no-op that costs a
global lookup. On, the SDK reads the standard variables itself (`..._HEADERS`,
`..._TIMEOUT`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`
and its argument, `OTEL_BSP_*`).

One trace per message, and its id is the one the audit and the logs carry
(`messages.trace_id`). The API opens a `keel.message` span when it accepts a message;
its span id is derived from the trace id, so every later step, in whatever process and
however it was enqueued (the API, the step before, beat draining a park, the
reconciler), makes its span a child of it from the message row alone: nothing needs to
travel in Celery's headers, and a re-enqueued task cannot land in another trace. A
message accepted alone continues the HTTP request's trace; each message of a batch (or
of a request that arrived with a caller's `traceparent`) gets a trace of its own, linked
to the request's span. Sampling is decided once per trace id (the parent-based sampler's
root decision is a pure function of it), so every process agrees on it.

Fork safety: the batch processor's export thread is started in the process that
exports (the worker's main process for the threads pool; each child, after the fork,
for prefork), flushed at a warm shutdown, and bounded: a full queue drops the newest
span and counts it (`keel_trace_spans_dropped_total`) instead of waiting, and a failed
or slow export is counted and logged at most once a minute, never raised; after one,
batches are dropped unsent (no encoding, no connection) for a pause that doubles from 5
to 60 s while the collector stays down.

Nothing personal leaves unless `KEEL_TRACE_CONTENT=true`: no message text, prompt or
reply, and the contact only as a salted hash (`KEEL_TRACE_SALT`, else derived from
`KEEL_AUDIT_KEY`; with neither, no user id is exported at all).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.observability import counters

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("keel.tracing")

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Seconds one export may take when OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT is unset (the SDK's
# default is 10 s): the export thread gives up sooner, and the queue drops instead.
DEFAULT_EXPORT_TIMEOUT_S = 5.0
# What a warm shutdown waits for the last spans to leave.
SHUTDOWN_FLUSH_S = 5.0
EXPORT_WARNING_EVERY_S = 60.0
# After a failed export, batches are dropped unsent for this long, doubling to the max.
EXPORT_PAUSE_S = 5.0
EXPORT_PAUSE_MAX_S = 60.0
TRACER_NAME = "keel"


def tracing_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for trace export (and the SDK is not disabled)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARS)


@dataclass
class _Tracing:
    """The process's tracer and how to reach its provider (one per process)."""

    provider: TracerProvider
    tracer: Tracer
    component: str
    content: bool
    salt: bytes | None
    pid: int = field(default_factory=os.getpid)


_state: _Tracing | None = None
_lock = threading.Lock()
# Span and trace ids the next span must take (see `_KeelIds`), for this thread only.
_forced_ids: contextvars.ContextVar[tuple[int | None, int | None]] = contextvars.ContextVar(
    "keel_forced_ids", default=(None, None)
)
# The message whose step is running here, for its model-call spans.
_message_attrs: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "keel_message_attrs", default=None
)


def enabled() -> bool:
    """Whether this process exports traces."""
    return _state is not None


def init_tracing(component: str, *, exporter: SpanExporter | None = None) -> bool:
    """Start exporting from this process; returns whether tracing is on.

    Call it where the process will run its work: in a prefork child after the fork (its
    own export thread), in the main process otherwise. Calling it again in the same
    process does nothing. `exporter` (tests) replaces the OTLP exporter and exports each
    span as it ends.
    """
    global _state
    with _lock:
        if _state is not None and _state.pid == os.getpid():
            return True
        if exporter is None and not tracing_configured():
            return False
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        from app.config import get_settings

        settings = get_settings()
        attributes: dict[str, str] = {"service.namespace": "keel", "keel.component": component}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            attributes["service.name"] = f"keel-{component}"
        provider = TracerProvider(
            resource=Resource.create(attributes), id_generator=_id_generator()
        )
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            provider.add_span_processor(_batch_processor(_otlp_exporter()))
        # The SDK logs every dropped span (a warning) and the exporter every failed batch
        # (an error: a Sentry event each); Keel counts them and logs one line a minute.
        logging.getLogger("opentelemetry").setLevel(logging.ERROR)
        logging.getLogger("opentelemetry.exporter").setLevel(logging.CRITICAL)
        salt = _salt(settings.keel_trace_salt, settings.keel_audit_key)
        _state = _Tracing(
            provider=provider,
            tracer=provider.get_tracer(TRACER_NAME),
            component=component,
            content=settings.keel_trace_content,
            salt=salt,
        )
    if salt is None:
        log.warning(
            "traces carry no user id: set KEEL_TRACE_SALT (or KEEL_AUDIT_KEY) to export "
            "the contact as a salted hash"
        )
    log.info("trace export on", extra={"component": component})
    return True


def shutdown_tracing() -> None:
    """Send what is queued, waiting at most `SHUTDOWN_FLUSH_S`, and stop exporting (also
    run at interpreter exit, for a cold shutdown)."""
    global _state
    with _lock:
        state, _state = _state, None
    if state is None or state.pid != os.getpid():
        return
    state.provider.shutdown()


def _salt(trace_salt: str | None, audit_key: str | None) -> bytes | None:
    if trace_salt:
        return trace_salt.encode()
    if audit_key:
        # Another use of the audit key: separated from the chains' by its own label.
        return hmac.new(audit_key.encode(), b"keel trace contact salt", hashlib.sha256).digest()
    return None


def contact_hash(contact_id: str, salt: bytes) -> str:
    """The contact as Langfuse's user id: HMAC-SHA256 under the salt, 32 hex digits."""
    return hmac.new(salt, contact_id.encode(), hashlib.sha256).hexdigest()[:32]


def derived_span_id(trace_id: int) -> int:
    """The span id of a message's `keel.message` span, from its trace id alone."""
    digest = hashlib.sha256(trace_id.to_bytes(16, "big") + b"keel.message").digest()
    return int.from_bytes(digest[:8], "big") or 1


def parse_trace_id(value: str | None) -> int | None:
    """A stored trace id as OpenTelemetry's integer; None when it is not 32 hex digits."""
    if not value or len(value) != 32:
        return None
    try:
        number = int(value, 16)
    except ValueError:
        return None
    return number or None


def _id_generator() -> Any:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class _KeelIds(RandomIdGenerator):
        """Random ids, except where a `keel.message` span's ids are fixed beforehand."""

        def generate_span_id(self) -> int:
            forced = _forced_ids.get()[0]
            return forced if forced is not None else super().generate_span_id()

        def generate_trace_id(self) -> int:
            forced = _forced_ids.get()[1]
            return forced if forced is not None else super().generate_trace_id()

    return _KeelIds()


def _otlp_exporter() -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    timeout_set = any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
    )
    inner = OTLPSpanExporter(timeout=None if timeout_set else DEFAULT_EXPORT_TIMEOUT_S)
    return _counting_exporter(inner)


def _counting_exporter(inner: SpanExporter) -> SpanExporter:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class _CountingExporter(SpanExporter):
        """The OTLP exporter behind a breaker: a failed export makes the next batches
        drop at once (nothing encoded, no connection tried) for a pause that doubles up
        to `EXPORT_PAUSE_MAX_S` while the collector stays down; every span not delivered
        is counted."""

        def __init__(self) -> None:
            self._warned_at = -EXPORT_WARNING_EVERY_S
            self._pause_s = 0.0
            self._paused_until = 0.0

        def export(self, spans: Any) -> SpanExportResult:
            now = time.monotonic()
            if now < self._paused_until:
                counters.TRACE_SPANS_DROPPED.labels(reason="collector_down").inc(len(spans))
                return SpanExportResult.FAILURE
            try:
                result = inner.export(spans)
            except Exception:  # the export thread must outlive any failure
                result = SpanExportResult.FAILURE
            if result is SpanExportResult.SUCCESS:
                self._pause_s = 0.0
                return result
            counters.TRACE_SPANS_DROPPED.labels(reason="export_failed").inc(len(spans))
            self._pause_s = min(EXPORT_PAUSE_MAX_S, max(EXPORT_PAUSE_S, 2 * self._pause_s))
            self._paused_until = time.monotonic() + self._pause_s
            if now - self._warned_at >= EXPORT_WARNING_EVERY_S:
                self._warned_at = now
                log.warning(
                    "trace export failed; spans dropped",
                    extra={"spans": len(spans), "pause_s": self._pause_s},
                )
            return result

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return inner.force_flush(timeout_millis)

    return _CountingExporter()


def _batch_processor(exporter: SpanExporter) -> Any:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    class _BoundedBatchSpanProcessor(BatchSpanProcessor):
        """The SDK's batch processor, dropping and counting a span when its queue is
        full (the SDK would drop one too, logging a warning for each)."""

        def on_end(self, span: Any) -> None:
            if not span.context.trace_flags.sampled:
                return
            inner = getattr(self, "_batch_processor", None)
            queue = getattr(inner, "_queue", None)
            if queue is not None and len(queue) >= getattr(inner, "_max_queue_size", 1 << 62):
                counters.TRACE_SPANS_DROPPED.labels(reason="queue_full").inc()
                return
            super().on_end(span)

        def shutdown(self) -> None:
            # The SDK's own waits up to 30 s (its force_flush has no bound at all): a
            # stopping worker with the collector down would hold its shutdown that long.
            inner = getattr(self, "_batch_processor", None)
            if inner is None:
                super().shutdown()
                return
            inner.shutdown(timeout_millis=int(SHUTDOWN_FLUSH_S * 1000))

    return _BoundedBatchSpanProcessor(exporter)


# -- spans --------------------------------------------------------------------------------


@dataclass
class RequestTrace:
    """The HTTP request's span, and whether a message has taken its trace already."""

    span: Span
    claimed: bool = False


_request: contextvars.ContextVar[RequestTrace | None] = contextvars.ContextVar(
    "keel_request_trace", default=None
)


@contextmanager
def request_span(
    name: str, *, carrier: Mapping[str, str], attributes: dict[str, Any]
) -> Iterator[Span | None]:
    """A SERVER span for one HTTP request, continuing the caller's `traceparent`."""
    state = _state
    if state is None:
        yield None
        return
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    parent = extract(carrier)
    with _span(state, name, kind=SpanKind.SERVER, attributes=attributes, context=parent) as span:
        holder = RequestTrace(span)
        token = _request.set(holder)
        try:
            yield span
        finally:
            _request.reset(token)


def _message_attributes(
    state: _Tracing, *, channel: str, contact_id: str, conversation: str | None
) -> dict[str, str]:
    attrs = {"keel.channel": channel}
    if conversation:
        attrs["gen_ai.conversation.id"] = conversation
        attrs["langfuse.session.id"] = conversation
    if state.salt is not None:
        attrs["langfuse.user.id"] = contact_hash(contact_id, state.salt)
    return attrs


def message_trace_id(*, channel: str, contact_id: str, conversation: str | None) -> str | None:
    """Open (and end) the `keel.message` span of a message being accepted; returns its
    trace id as 32 hex digits, or None when tracing is off."""
    state = _state
    if state is None:
        return None
    from opentelemetry import trace
    from opentelemetry.trace import Link

    holder = _request.get()
    current = trace.get_current_span().get_span_context()
    attrs = _message_attributes(
        state, channel=channel, contact_id=contact_id, conversation=conversation
    )
    links = []
    if holder is not None and not holder.claimed and not _has_remote_parent(holder.span):
        holder.claimed = True  # this message continues the request's own trace
        trace_id = current.trace_id
        parent = None
    else:
        trace_id = _random_trace_id()
        parent = trace.set_span_in_context(trace.INVALID_SPAN)
        if current.is_valid:
            links.append(Link(current))
    token = _forced_ids.set((derived_span_id(trace_id), trace_id))
    try:
        span = state.tracer.start_span(
            "keel.message", context=parent, attributes=attrs, links=links
        )
    finally:
        _forced_ids.reset(token)
    span.end()
    return f"{span.get_span_context().trace_id:032x}"


def _has_remote_parent(span: Span) -> bool:
    parent = getattr(span, "parent", None)
    return bool(parent is not None and parent.is_remote)


def _random_trace_id() -> int:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    return RandomIdGenerator().generate_trace_id()


def _message_context(state: _Tracing, trace_id_hex: str | None) -> Any:
    """A context whose parent is the message's `keel.message` span (rebuilt from its trace
    id, sampled as every process decides for that id); None without a usable id."""
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.sampling import Decision
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    trace_id = parse_trace_id(trace_id_hex)
    if trace_id is None:
        return None
    sampler = state.provider.sampler
    decision = sampler.should_sample(Context(), trace_id, "keel.message").decision
    sampled = decision is Decision.RECORD_AND_SAMPLE
    parent = SpanContext(
        trace_id=trace_id,
        span_id=derived_span_id(trace_id),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent), Context())


@contextmanager
def step_span(
    step: str,
    *,
    message_id: str,
    trace_id: str | None,
    channel: str,
    contact_id: str,
    conversation: str | None,
    tier: str | None,
) -> Iterator[Span | None]:
    """The span of one pipeline step for one message, current while the step runs."""
    state = _state
    if state is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    attrs: dict[str, Any] = {"keel.step": step, "keel.message_id": message_id}
    attrs |= _message_attributes(
        state, channel=channel, contact_id=contact_id, conversation=conversation
    )
    if tier:
        attrs["keel.tier"] = tier
    context = _message_context(state, trace_id)
    token = _message_attrs.set({k: v for k, v in attrs.items() if k != "keel.step"})
    try:
        with _span(
            state, f"keel.{step}", kind=SpanKind.CONSUMER, attributes=attrs, context=context
        ) as span:
            yield span
    finally:
        _message_attrs.reset(token)


@contextmanager
def _span(
    state: _Tracing, name: str, *, kind: Any, attributes: dict[str, Any], context: Any = None
) -> Iterator[Span]:
    """A current span; an exception leaving it marks it failed with its type, never its
    message (a database error's may quote a statement's values)."""
    with state.tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR))
            raise


@dataclass
class ModelCallSpan:
    """The span of one model call; `completed` adds what the answer said."""

    span: Span | None
    content: bool = False

    def completed(
        self,
        *,
        response_id: str | None,
        response_model: str | None,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float,
        text: str,
    ) -> None:
        span = self.span
        if span is None:
            return
        attrs: dict[str, Any] = {
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "keel.cost_usd": cost_usd,
        }
        if response_id:
            attrs["gen_ai.response.id"] = response_id
        if response_model:
            attrs["gen_ai.response.model"] = response_model
        if self.content:
            reply = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
            attrs["gen_ai.output.messages"] = json.dumps(reply, ensure_ascii=False)
        span.set_attributes(attrs)

    def failed(self, status: str, *, error_type: str | None = None) -> None:
        """A call that returned nothing Keel could use (an unusable answer, say)."""
        if self.span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        self.span.set_attribute("keel.status", status)
        self.span.set_attribute("error.type", error_type or status)
        self.span.set_status(Status(StatusCode.ERROR))


@contextmanager
def model_call_span(
    *, provider: str, model: str, tier: str, task: str, system: str, user: str
) -> Iterator[ModelCallSpan]:
    """A CLIENT span around one model call (GenAI semantic conventions); an exception
    leaving it marks it failed with its type only (never its message)."""
    state = _state
    if state is None:
        yield ModelCallSpan(None)
        return
    from opentelemetry.trace import SpanKind

    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "keel.tier": tier,
        "keel.task": task,
    }
    message = _message_attrs.get() or {}
    for key in ("gen_ai.conversation.id", "langfuse.session.id", "langfuse.user.id"):
        if key in message:
            attrs[key] = message[key]
    if "keel.message_id" in message:
        attrs["keel.message_id"] = message["keel.message_id"]
    if state.content:
        prompt = [
            {"role": "system", "parts": [{"type": "text", "content": system}]},
            {"role": "user", "parts": [{"type": "text", "content": user}]},
        ]
        attrs["gen_ai.input.messages"] = json.dumps(prompt, ensure_ascii=False)
    with _span(state, f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs) as span:
        yield ModelCallSpan(span, content=state.content)


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), or None when tracing is off or no
    span is current."""
    if _state is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def add_event(trace_id: str | None, name: str, attributes: dict[str, Any]) -> None:
    """Record `name` on the current span when it belongs to `trace_id`'s trace; otherwise
    (an event recorded outside the message's step: a drain, a review, an outcome) as a
    short span of its own in the message's trace."""
    state = _state
    if state is None:
        return
    from opentelemetry import trace
    from opentelemetry.trace import Link

    current = trace.get_current_span()
    context = current.get_span_context()
    if context.is_valid and f"{context.trace_id:032x}" == trace_id:
        current.add_event(name, attributes)
        return
    parent = _message_context(state, trace_id)
    if parent is None:
        if context.is_valid:
            current.add_event(name, attributes)
        return
    links = [Link(context)] if context.is_valid else []
    span = state.tracer.start_span(f"keel.{name}", context=parent, links=links)
    span.add_event(name, attributes)
    span.end()
