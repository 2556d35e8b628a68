"""`GET /metrics` reports what happened, counted where it happened (messages by state,
model calls, tokens and cost, guardrail verdicts, breakers), and reads queue depths from
the broker and breaker states from Redis by key; it still answers when Redis does not,
and never SCANs. Its cost against the audit table's size is tested in
test_scrape_cost.py; who may scrape it in tests/api/test_metrics_access.py.

Counters live in the test process for the whole run, so each test compares a scrape
after with one before."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from app.api import create_app
from app.broker import enqueue_many
from app.config import reset_settings
from app.db import session_scope
from app.db.models import AuditEvent, Message
from app.demo.run import load_inbox
from app.observability.metrics import registry
from app.pipeline.intake import accept_message
from app.pipeline.runner import execute
from app.pipeline.schemas import MessageIn
from app.policy import get_policy
from app.state import Keys, get_redis, reset_redis

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
METRICS_KEY = "metrics-key-3b9e"


@pytest.fixture(autouse=True)
def metrics_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """/metrics on the web port, behind a bearer key (without one there is no route)."""
    monkeypatch.setenv("KEEL_METRICS_KEY", METRICS_KEY)
    reset_settings()


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def scrape() -> tuple[Samples, str, str]:
    with TestClient(create_app()) as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
    assert response.status_code == 200
    return parse(response.text), response.text, response.headers["content-type"]


def collect() -> Samples:
    return parse(generate_latest(registry()).decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def grew(after: Samples, before: Samples, name: str, **labels: str) -> float:
    """How much a counter grew between two scrapes (0 for a series not there yet)."""
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


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


def test_metrics_count_states_calls_tokens_cost_verdicts_and_read_queues_and_breakers(
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
    before, _, _ = scrape()
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

    # When Prometheus scrapes the web process with the metrics key
    samples, body, content_type = scrape()

    # Then the live figures come from the broker and Redis
    assert content_type.startswith("text/plain")
    assert value(samples, "keel_metrics_source_up", source="redis") == 1
    assert value(samples, "keel_metrics_source_up", source="broker") == 1
    assert value(samples, "keel_queue_depth", queue="keel.ingest") == 4
    assert value(samples, "keel_queue_depth", queue="keel.fast") == 0
    haiku = "anthropic:claude-haiku-4-5"
    assert value(samples, "keel_breaker_state", model=haiku, state="open") == 1
    assert value(samples, "keel_breaker_state", model=haiku, state="closed") == 0
    # And every counter grew by what the audit record says happened
    with session_scope() as session:
        events = session.exec(select(AuditEvent)).all()
        states = Counter(m.state for m in session.exec(select(Message)).all())
    actions = Counter(e.action for e in events)
    assert grew(samples, before, "keel_messages_total", state="received", reason="") == 10
    sent = grew(samples, before, "keel_messages_total", state="sent", reason="")
    assert sent == actions["sent"] == states["sent"]
    escalated = sum(
        grew(samples, before, "keel_messages_total", state="escalated", reason=str(reason))
        for reason in {e.detail.get("reason") for e in events if e.action == "escalated"}
    )
    assert escalated == actions["escalated"] >= 1
    calls: Counter[tuple[str, str, str, str]] = Counter()
    cost: dict[tuple[str, str, str], Decimal] = {}
    tokens: Counter[tuple[str, str, str, str]] = Counter()
    verdicts: Counter[tuple[str, str]] = Counter()
    for e in events:
        d = e.detail
        if e.action == "model_call":
            key = (d["keel.tier"], d["gen_ai.provider.name"], d["gen_ai.request.model"])
            calls[(*key, d["keel.status"])] += 1
            cost[key] = cost.get(key, Decimal(0)) + Decimal(d["keel.cost_usd"])
            tokens[(*key, "input")] += d["gen_ai.usage.input_tokens"]
            tokens[(*key, "output")] += d["gen_ai.usage.output_tokens"]
        elif e.action == "guardrail":
            verdict = "pass" if d["passed"] else ("block" if d["blocking"] else "delay")
            verdicts[(d["check"], verdict)] += 1
    assert sum(n for (_, p, _, s), n in calls.items() if (p, s) == ("anthropic", "unavailable"))
    for (tier, provider, model, status), n in calls.items():
        labels = {"tier": tier, "provider": provider, "model": model}
        assert grew(samples, before, "keel_model_calls_total", **labels, status=status) == n
    for (tier, provider, model), usd in cost.items():
        labels = {"tier": tier, "provider": provider, "model": model}
        got = grew(samples, before, "keel_model_cost_usd_total", **labels)
        assert got == pytest.approx(float(usd), abs=1e-9)
    for (tier, provider, model, direction), n in tokens.items():
        labels = {"tier": tier, "provider": provider, "model": model, "direction": direction}
        assert grew(samples, before, "keel_model_tokens_total", **labels) == n
    assert verdicts[("prices", "block")] >= 1
    for (check, verdict), n in verdicts.items():
        got = grew(samples, before, "keel_guardrail_verdicts_total", check=check, verdict=verdict)
        assert got == n, (check, verdict)
    transitions = grew(samples, before, "keel_breaker_transitions_total", model=haiku, to="open")
    assert transitions == 1
    all_flagship = sum(
        grew(samples, before, "keel_model_cost_all_flagship_usd_total", task=task)
        for task in ("classify", "draft")
    )
    assert all_flagship > sum(float(usd) for usd in cost.values())
    # And no message id or text is in the page
    for message_id in processed + waiting:
        assert message_id not in body
    assert "caso-precio-77" not in body


def test_metrics_still_answer_when_redis_is_away(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = collect()
    accept(load_inbox(1)[0])
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")
    reset_settings()
    reset_redis()
    from app.broker import refresh_broker

    refresh_broker()
    try:
        samples, _, _ = scrape()
    finally:
        monkeypatch.undo()
        reset_settings()
        reset_redis()
        refresh_broker()
    assert value(samples, "keel_metrics_source_up", source="redis") == 0
    assert value(samples, "keel_metrics_source_up", source="broker") == 0
    assert grew(samples, before, "keel_messages_total", state="received", reason="") == 1
    assert not any(name == "keel_queue_depth" for name, _ in samples)


def test_breakers_are_read_by_key_without_scanning_redis(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one open breaker, and a Redis client that refuses to SCAN
    policy = get_policy()
    ref = policy.tiers["fast"].chain[0]
    keys = Keys(keel_env["KEEL_NAMESPACE"])
    get_redis().hset(keys.breaker_state(ref.key), "state", "open")

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a scrape must not SCAN Redis")

    # When Prometheus scrapes
    with monkeypatch.context() as patched:
        patched.setattr(redis.Redis, "scan_iter", no_scan)
        patched.setattr(redis.Redis, "scan", no_scan)
        samples = collect()
    # Then every model of the policy's chains has its state, the open one open
    assert value(samples, "keel_metrics_source_up", source="redis") == 1
    assert value(samples, "keel_breaker_state", model=ref.key, state="open") == 1
    for tier in policy.tiers.values():
        for other in tier.chain:
            if other.key != ref.key:
                assert value(samples, "keel_breaker_state", model=other.key, state="closed") == 1
