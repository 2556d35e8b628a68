"""Committed audit events, seen once more on their way out: counted for `/metrics` and
added to the message's trace as span events (guardrail verdicts, failovers, parking and
draining, redrafts, escalations, dead letters, outcomes, ...).

Called after the event's transaction committed (`app.audit.record` hands the rows over
from the session's `after_commit`; the one-statement step commit after its statement),
so a commit that lost a race counts nothing. Span events carry reason codes, names of
checks, tiers and models, never free text: an allowlist of detail keys, and no `error`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.observability import counters, tracing

# The actions that put a message in a state, for `keel_messages{state,reason}`.
STATE_ACTIONS = {
    "received",
    "duplicate",
    "scheduled",
    "sent",
    "delivery_failed",
    "escalated",
    "no_reply",
    "parked",
    "unparked",
    "dead_lettered",
    "replayed",
    "reviewed",
}
# Detail keys a span event may carry: codes, names and numbers only.
EVENT_KEYS = frozenset(
    {
        "attempt",
        "attempts",
        "blocking",
        "check",
        "confidence",
        "currency",
        "decision",
        "from",
        "from_tier",
        "intent",
        "kind",
        "language",
        "model",
        "passed",
        "provider",
        "reason",
        "send_at",
        "status",
        "tier",
        "to",
        "to_tier",
        "violations",
    }
)
# Spans of their own already (model calls; `received` is the `keel.message` span), or
# not about one message (breakers).
NOT_EVENTS = {"model_call", "received", "breaker"}


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:64]


def count(action: str, detail: Mapping[str, Any]) -> None:
    """Update the counters one committed event moves."""
    if action in STATE_ACTIONS:
        counters.MESSAGES.labels(state=action, reason=_text(detail.get("reason"))).inc()
    if action == "guardrail":
        passed = bool(detail.get("passed"))
        verdict = "pass" if passed else ("block" if detail.get("blocking", True) else "delay")
        counters.GUARDRAIL_VERDICTS.labels(check=_text(detail.get("check")), verdict=verdict).inc()
    elif action == "failover":
        counters.FAILOVERS.labels(
            tier=_text(detail.get("tier")), reason=_text(detail.get("reason"))
        ).inc()
    elif action == "redraft":
        counters.REDRAFTS.labels(
            from_tier=_text(detail.get("from_tier")), to_tier=_text(detail.get("to_tier"))
        ).inc()
    elif action == "parked":
        counters.PARKS.labels(tier=_text(detail.get("tier"))).inc()
    elif action == "unparked":
        counters.DRAINS.labels(tier=_text(detail.get("tier"))).inc()
    elif action == "breaker":
        counters.BREAKER_TRANSITIONS.labels(
            model=_text(detail.get("model")), to=_text(detail.get("to"))
        ).inc()
    elif action == "outcome":
        counters.OUTCOMES.labels(kind=_text(detail.get("kind"))).inc()


def event_attributes(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The span event's attributes: allowlisted keys, scalar or a list of codes."""
    attrs: dict[str, Any] = {}
    for key, value in detail.items():
        if key not in EVENT_KEYS or value is None:
            continue
        if isinstance(value, bool | int | float):
            attrs[f"keel.{key}"] = value
        elif isinstance(value, str):
            attrs[f"keel.{key}"] = value[:200]
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            attrs[f"keel.{key}"] = [v[:64] for v in value][:20]
    return attrs


def observe(rows: Iterable[Mapping[str, Any]]) -> None:
    """Count each committed event and add it to its message's trace."""
    on = tracing.enabled()
    for row in rows:
        action = str(row.get("action") or "")
        detail = row.get("detail") or {}
        if not isinstance(detail, Mapping):
            detail = {}
        count(action, detail)
        if on and action not in NOT_EVENTS and row.get("message_id") is not None:
            attrs = event_attributes(detail)
            if row.get("step"):
                attrs["keel.step"] = str(row["step"])
            tracing.add_event(row.get("trace_id"), action, attrs)
