"""`GET /metrics` reports real figures from Redis and the database, without credentials
and without message data, and still answers when Redis does not."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from app.api import create_app
from app.broker import enqueue_many
from app.config import reset_settings
from app.db import session_scope
from app.db.models import AuditEvent, Message
from app.demo.run import load_inbox
from app.pipeline.intake import accept_message
from app.pipeline.runner import execute
from app.pipeline.schemas import MessageIn
from app.policy import get_policy
from app.state import reset_redis

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape() -> tuple[Samples, str, str]:
    with TestClient(create_app()) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, response.text, response.headers["content-type"]


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def accept(item: dict[str, Any]) -> str:
    with session_scope() as session:
        message, _ = accept_message(
            session=session, message_in=MessageIn.model_validate(item), actor="api"
        )
    return message.id


def run_until_done(message_id: str) -> None:
    step: str | None = "ingest"
    for _ in range(12):
        outcome = execute(step or "", message_id)
        if outcome.kind != "advanced" or not outcome.next_step:
            return
        step = outcome.next_step


def test_metrics_report_queues_states_calls_cost_blocks_and_breakers(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    # Given Anthropic's haiku failing every call (the fast and standard tiers fail over
    # to OpenAI and the haiku breaker opens) and one draft quoting a price the catalog lacks
    rules = [
        {"when": {"provider": "anthropic", "model": "claude-haiku-*"}, "fail": {"status": 529}},
        {
            "when": {"task": "draft", "contains": "caso-precio-77"},
            "respond": {"text": "¡Claro! El curso intensivo cuesta 399 € al mes."},
        },
    ]
    for rule in rules:
        httpx.post(f"{simulator}/_sim/rules", json=rule).raise_for_status()
    inbox = load_inbox(10)
    inbox[0]["text"] = "Hola, ¿cuánto cuesta el curso intensivo de inglés? caso-precio-77"
    processed = [accept(item) for item in inbox[:6]]
    for message_id in processed:
        run_until_done(message_id)
    # And four messages waiting on keel.ingest, one of them sent with a priority
    waiting = [accept(item) for item in inbox[6:]]
    enqueue_many((("ingest", mid, None) for mid in waiting[:3]), policy=get_policy())
    from app.broker import celery_app

    celery_app.send_task("keel.ingest", args=[waiting[3]], queue="keel.ingest", priority=6)

    # When Prometheus scrapes the web process, with no credentials
    samples, body, content_type = scrape()

    # Then every figure matches the record
    assert content_type.startswith("text/plain")
    assert value(samples, "keel_metrics_source_up", source="redis") == 1
    assert value(samples, "keel_metrics_source_up", source="database") == 1
    assert value(samples, "keel_queue_depth", queue="keel.ingest") == 4
    assert value(samples, "keel_queue_depth", queue="keel.fast") == 0
    with session_scope() as session:
        states = Counter(m.state for m in session.exec(select(Message)).all())
        events = session.exec(select(AuditEvent)).all()
    for state in ("received", "sent", "escalated", "dead", "parked"):
        assert value(samples, "keel_messages", state=state) == states.get(state, 0), state
    assert states["received"] == 4 and states["escalated"] >= 1
    calls: Counter[tuple[str, str, str]] = Counter()
    cost: dict[tuple[str, str], Decimal] = {}
    blocks: Counter[str] = Counter()
    for e in events:
        d = e.detail
        if e.action == "model_call":
            tier, provider = d["keel.tier"], d["gen_ai.provider.name"]
            calls[(tier, provider, d["keel.status"])] += 1
            cost[(tier, provider)] = cost.get((tier, provider), Decimal(0)) + Decimal(
                d["keel.cost_usd"]
            )
        elif e.action == "guardrail" and not d["passed"] and d["check"] != "send_window":
            blocks[d["check"]] += 1
    haiku_failures = sum(
        n
        for (_, provider, status), n in calls.items()
        if (provider, status) == ("anthropic", "unavailable")
    )
    assert haiku_failures >= get_policy().breakers.min_calls
    assert calls[("fast", "openai", "ok")] == 6
    for (tier, provider, status), n in calls.items():
        got = value(
            samples, "keel_model_calls_last_hour", tier=tier, provider=provider, status=status
        )
        assert got == n, (tier, provider, status)
    for (tier, provider), usd in cost.items():
        got = value(samples, "keel_model_cost_usd_last_hour", tier=tier, provider=provider)
        assert got == pytest.approx(float(usd), abs=1e-9)
    assert blocks["prices"] >= 1
    for check, n in blocks.items():
        assert value(samples, "keel_guardrail_blocks_last_hour", check=check) == n
    haiku = "anthropic:claude-haiku-4-5"
    assert value(samples, "keel_breaker_state", model=haiku, state="open") == 1
    assert value(samples, "keel_breaker_state", model=haiku, state="closed") == 0
    # And no message id or text is in the page
    for message_id in processed + waiting:
        assert message_id not in body
    assert "caso-precio-77" not in body


def test_metrics_still_answer_when_redis_is_away(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accept(load_inbox(1)[0])
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")
    reset_settings()
    reset_redis()
    samples, _, _ = scrape()
    assert value(samples, "keel_metrics_source_up", source="redis") == 0
    assert value(samples, "keel_metrics_source_up", source="database") == 1
    assert value(samples, "keel_messages", state="received") == 1
    assert not any(name == "keel_queue_depth" for name, _ in samples)
