"""`GET /metrics` reports real figures from Redis and the database, without message data,
still answers when Redis does not, and costs at most one computation per cache period
(a bounded one: a statement timeout, a row cap, no SCAN) however often it is scraped.
Who may scrape it is tested in tests/api/test_metrics_access.py."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
import redis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from app.api import create_app
from app.broker import enqueue_many
from app.config import reset_settings
from app.db import get_engine, session_scope
from app.db.models import AuditEvent, Message
from app.demo.run import load_inbox
from app.observability.metrics import KeelCollector, registry
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


def collect(collector: KeelCollector) -> Samples:
    return parse(generate_latest(registry(collector)).decode())


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

    # When Prometheus scrapes the web process with the metrics key
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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_scrapes_within_the_cache_period_reuse_one_computation(keel_env: dict[str, str]) -> None:
    # Given a collector with a 10 s cache, one message, and every statement counted
    clock = Clock()
    collector = KeelCollector(cache_s=10, clock=clock)
    inbox = load_inbox(2)
    accept(inbox[0])
    statements: list[str] = []
    engine = get_engine()
    listener = lambda *args, **_: statements.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        first = collect(collector)
        per_computation = len(statements)
        assert per_computation >= 4
        # When another message arrives and Prometheus scrapes twice more within 10 s
        accept(inbox[1])
        before = len(statements)
        clock.now += 9.9
        second = collect(collector)
        third = collect(collector)
        # Then neither asked the database anything and both answered the first figures
        assert len(statements) == before
        assert second == first == third
        assert value(second, "keel_messages", state="received") == 1
        # And once the period is over the next scrape reads afresh, once
        clock.now += 0.1
        fresh = collect(collector)
        assert value(fresh, "keel_messages", state="received") == 2
        assert len(statements) == before + per_computation
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def test_last_hour_figures_read_at_most_the_row_cap_and_say_so(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    # Given one message run to the end (a classification and a draft at least)
    mid = accept(load_inbox(1)[0])
    run_until_done(mid)
    with session_scope() as session:
        calls = [e for e in session.exec(select(AuditEvent)).all() if e.action == "model_call"]
    assert len(calls) >= 2
    # When a collector may read only one audit row per figure
    capped = collect(KeelCollector(audit_row_cap=1))
    uncapped = collect(KeelCollector())
    # Then it counts one model call and flags the figure as capped
    counted = sum(n for (name, _), n in capped.items() if name == "keel_model_calls_last_hour")
    assert counted == 1
    assert value(capped, "keel_metrics_capped", figure="model_calls") == 1
    assert value(uncapped, "keel_metrics_capped", figure="model_calls") == 0
    every = sum(n for (name, _), n in uncapped.items() if name == "keel_model_calls_last_hour")
    assert every == len(calls)


def test_a_query_that_cannot_finish_in_time_reports_the_database_down_not_a_hung_scrape(
    keel_env: dict[str, str],
) -> None:
    # Given the messages table locked by someone else (a migration, a long transaction)
    accept(load_inbox(1)[0])
    dsn = keel_env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    result: dict[str, Samples] = {}
    with psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
        # When Prometheus scrapes
        collector = KeelCollector(statement_timeout_s=0.3)
        scrape_thread = threading.Thread(target=lambda: result.update(s=collect(collector)))
        scrape_thread.start()
        scrape_thread.join(timeout=20)
        finished = not scrape_thread.is_alive()
        locker.rollback()
    scrape_thread.join(timeout=20)
    # Then the scrape gave up on the database within its statement timeout
    assert finished, "the scrape waited on the lock"
    samples = result["s"]
    assert value(samples, "keel_metrics_source_up", source="database") == 0
    assert value(samples, "keel_metrics_source_up", source="redis") == 1


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
        samples = collect(KeelCollector())
    # Then every model of the policy's chains has its state, the open one open
    assert value(samples, "keel_metrics_source_up", source="redis") == 1
    assert value(samples, "keel_breaker_state", model=ref.key, state="open") == 1
    for tier in policy.tiers.values():
        for other in tier.chain:
            if other.key != ref.key:
                assert value(samples, "keel_breaker_state", model=other.key, state="closed") == 1
