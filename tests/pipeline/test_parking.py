"""Outages park messages in the database; probes drain them; the reconciler recovers
lost queue entries; poison messages are dead-lettered; breakers open and close."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col, select

from app.broker import enqueue_many
from app.db import session_scope
from app.db.models import AuditEvent, DeadLetter, Message
from app.pipeline import crashes
from app.pipeline.parking import drain
from app.pipeline.reconcile import reconcile
from app.pipeline.runner import execute, give_up_poison
from app.policy import ModelRef, get_policy
from app.providers.breaker import BreakerState
from app.providers.health import breaker_for, report_transition
from app.state import get_redis, keys
from tests.helpers import queued_ids
from tests.pipeline.test_steps import actions, load, new_message


def take_down(simulator: str, *providers: str, seconds: int = 60) -> None:
    for provider in providers:
        httpx.post(
            f"{simulator}/_sim/outage",
            json={"provider": provider, "status": 503, "seconds": seconds},
        ).raise_for_status()


def bring_back(simulator: str) -> None:
    httpx.delete(f"{simulator}/_sim/outage").raise_for_status()


def park_some(simulator: str, count: int) -> list[str]:
    take_down(simulator, "anthropic", "openai")
    ids = []
    for i in range(count):
        mid = new_message(external_id=f"wa-park-{i}")
        execute("ingest", mid)
        assert execute("classify", mid).kind == "parked"
        ids.append(mid)
    return ids


def test_parked_messages_drain_oldest_first_at_the_policy_rate_once_a_probe_answers(
    simulator: str, keel_env: dict[str, str], open_window_policy: str
) -> None:
    ids = park_some(simulator, 5)
    policy = get_policy()

    still_down = drain(policy=policy, interval_s=1.0)
    assert still_down.drained == {} and still_down.probed == {"fast": None}
    assert all(load(mid).state == "parked" for mid in ids)

    bring_back(simulator)
    get_redis().delete(keys().probe_lock("fast"))
    per_tick = 2 / policy.retries.drain_rate_per_s  # an interval that lets two through
    first = drain(policy=policy, interval_s=per_tick)
    assert first.drained == {"fast": 2}
    assert [load(mid).state for mid in ids] == ["received"] * 2 + ["parked"] * 3
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.fast") == ids[:2]
    assert actions(ids[0])[-1] == "unparked"

    drain(policy=policy, interval_s=10.0)
    assert all(load(mid).state == "received" for mid in ids)
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.fast") == ids
    # Resumed at the step that parked them: classify runs and the pipeline goes on.
    assert execute("classify", ids[0]).kind == "advanced"


def test_a_message_parked_past_max_park_age_is_dead_lettered_park_expired(
    simulator: str, open_window_policy: str
) -> None:
    (mid,) = park_some(simulator, 1)
    policy = get_policy()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=policy.retries.max_park_age_s + 5)
    result = drain(policy=policy, interval_s=1.0, now=later)
    assert result.expired == 1
    with session_scope() as session:
        dead = session.exec(select(DeadLetter).where(DeadLetter.message_id == mid)).one()
    assert dead.reason == "park_expired" and dead.step == "classify"
    assert load(mid).state == "dead"


def test_an_outage_alone_never_dead_letters_a_young_message(
    simulator: str, open_window_policy: str
) -> None:
    ids = park_some(simulator, 3)
    for _ in range(3):
        drain(policy=get_policy(), interval_s=1.0)
        for mid in ids:
            execute("classify", mid)
    assert {load(mid).state for mid in ids} == {"parked"}
    with session_scope() as session:
        assert session.exec(select(DeadLetter)).all() == []


def test_the_reconciler_re_enqueues_a_stalled_message_whose_queue_entry_was_lost(
    keel_env: dict[str, str], open_window_policy: str
) -> None:
    policy = get_policy()
    lost = new_message(external_id="wa-lost")
    queued = new_message(external_id="wa-queued")
    enqueue_many([("ingest", queued, None)], policy=policy)
    get_redis().delete(f"{keel_env['KEEL_NAMESPACE']}:keel.ingest")  # the queue is gone...
    enqueue_many([("ingest", queued, None)], policy=policy)  # ...but this one is re-queued
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=policy.retries.stalled_after_s + 1)
    with session_scope() as session:
        session.execute(sa.update(Message).values(updated_at=old))

    assert reconcile(policy=policy) == 1
    assert queued_ids(keel_env["KEEL_NAMESPACE"], "keel.ingest") == [queued, lost]
    assert actions(lost)[-1] == "reconciled"
    assert "reconciled" not in actions(queued)
    # Freshly touched: the next pass leaves it alone.
    assert reconcile(policy=policy) == 0


def test_a_task_that_kills_its_worker_past_the_limit_is_dead_lettered_poison(
    keel_env: dict[str, str],
) -> None:
    policy = get_policy()
    mid = new_message(external_id="wa-poison")
    limit = policy.retries.poison_after_crashes
    for _ in range(limit):
        crashes.begin(mid, "ingest")  # started, never finished: the worker died
    started = crashes.begin(mid, "ingest")
    assert started == limit + 1
    assert give_up_poison("ingest", mid, crashes=started).kind == "dead"
    with session_scope() as session:
        dead = session.exec(select(DeadLetter).where(DeadLetter.message_id == mid)).one()
    assert dead.reason == "poison"


def test_a_clean_finish_does_not_count_as_a_crash(keel_env: dict[str, str]) -> None:
    for _ in range(10):
        assert crashes.begin("m-1", "draft") == 1
        crashes.end("m-1", "draft")


def breaker_events() -> list[dict[str, Any]]:
    with session_scope() as session:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.action == "breaker").order_by(col(AuditEvent.id))
        ).all()
    return [r.detail for r in rows]


def test_a_breaker_opens_on_failures_lets_one_trial_through_and_closes_on_success(
    keel_env: dict[str, str],
) -> None:
    policy = get_policy()
    config = policy.breakers
    breaker = breaker_for(policy, ModelRef.parse("anthropic:claude-haiku-4-5"))
    now = 1_000_000.0
    for i in range(config.min_calls):
        report_transition(breaker.record(ok=False, latency_s=0.1, now=now + i * 0.1))
    assert breaker.state()[0] == BreakerState.open
    assert breaker.allow(now=now + 1)[0] is False

    after = now + config.open_s + 1
    allowed, transition = breaker.allow(now=after)
    assert allowed and transition is not None and transition.to_state == "half_open"
    report_transition(transition)
    assert breaker.allow(now=after)[0] is False  # one trial at a time
    report_transition(breaker.record(ok=True, latency_s=0.1, now=after + 0.5))
    assert breaker.state()[0] == BreakerState.closed
    assert breaker.allow(now=after + 1)[0] is True
    assert [(e["from"], e["to"]) for e in breaker_events()] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_a_failed_trial_opens_the_breaker_again(keel_env: dict[str, str]) -> None:
    policy = get_policy()
    breaker = breaker_for(policy, ModelRef.parse("openai:gpt-5-nano"))
    now = 2_000_000.0
    for _ in range(policy.breakers.min_calls):
        breaker.record(ok=False, latency_s=0.1, now=now)
    after = now + policy.breakers.open_s + 1
    assert breaker.allow(now=after)[0] is True
    transition = breaker.record(ok=False, latency_s=0.1, now=after)
    assert transition is not None and transition.to_state == "open"
    assert breaker.allow(now=after + 1)[0] is False


def test_a_few_failures_among_many_successes_keep_the_breaker_closed(
    keel_env: dict[str, str],
) -> None:
    policy = get_policy()
    breaker = breaker_for(policy, ModelRef.parse("openai:gpt-5-mini"))
    now = 3_000_000.0
    for i in range(20):
        breaker.record(ok=i % 5 != 0, latency_s=0.1, now=now + i * 0.2)
    assert breaker.state()[0] == BreakerState.closed


def test_an_open_breaker_skips_the_model_without_calling_it(
    simulator: str, open_window_policy: str
) -> None:
    policy = get_policy()
    breaker = breaker_for(policy, ModelRef.parse("anthropic:claude-haiku-4-5"))
    import time

    for _ in range(policy.breakers.min_calls):
        breaker.record(ok=False, latency_s=0.1, now=time.time())
    mid = new_message(external_id="wa-skip")
    execute("ingest", mid)
    assert execute("classify", mid).kind == "advanced"
    stats = httpx.get(f"{simulator}/_sim/stats").json()
    assert stats["by_provider"].get("anthropic", 0) == 0
    assert stats["by_provider"]["openai"] == 1
    assert "failover" in actions(mid)


def test_a_429_with_retry_after_holds_the_model_for_every_worker_without_sleeping(
    simulator: str, open_window_policy: str
) -> None:
    httpx.post(
        f"{simulator}/_sim/rules",
        json={
            "when": {"provider": "anthropic"},
            "fail": {"status": 429, "rate": 1.0, "retry_after": 30},
            "times": 1,
        },
    ).raise_for_status()
    first, second = new_message(external_id="wa-ra-1"), new_message(external_id="wa-ra-2")
    for mid in (first, second):
        execute("ingest", mid)
        assert execute("classify", mid).kind == "advanced"
    stats = httpx.get(f"{simulator}/_sim/stats").json()
    # One 429 from anthropic; the second message skipped it (held), both went to openai.
    assert stats["by_provider"] == {"anthropic": 1, "openai": 2}
    breaker = breaker_for(get_policy(), ModelRef.parse("anthropic:claude-haiku-4-5"))
    assert 20 < breaker.held_for_s() <= 30


def test_credentials_refused_by_every_model_dead_letter_config_error_without_a_retry_loop(
    simulator: str, open_window_policy: str
) -> None:
    httpx.post(
        f"{simulator}/_sim/rules", json={"when": {}, "fail": {"status": 401}}
    ).raise_for_status()
    mid = new_message(external_id="wa-cfg")
    execute("ingest", mid)
    assert execute("classify", mid).kind == "dead"
    with session_scope() as session:
        dead = session.exec(select(DeadLetter).where(DeadLetter.message_id == mid)).one()
    assert dead.reason == "config_error"


def test_a_step_that_keeps_raising_an_unforeseen_error_ends_as_poison_not_a_loop(
    simulator: str, open_window_policy: str, monkeypatch: Any
) -> None:
    from app.config import reset_settings
    from app.lifecycle import Step
    from tasks.pipeline import STEP_TASKS

    deliver = STEP_TASKS[Step.deliver]

    mid = new_message(external_id="wa-bug")
    for step in ("ingest", "classify", "draft", "check"):
        assert execute(step, mid).kind == "advanced"
    monkeypatch.setenv("KEEL_WEBHOOK_URL", "http://127.0.0.1:notaport/hook")  # httpx can't
    monkeypatch.setenv("KEEL_WEBHOOK_SECRET", "test-secret")
    reset_settings()
    limit = get_policy().retries.poison_after_crashes
    for _ in range(limit):
        result = deliver.apply(args=[mid])
        assert result.failed()  # the error propagates: Celery and Sentry see it
    assert load(mid).state == "drafted"
    assert deliver.apply(args=[mid]).get() == "dead"
    with session_scope() as session:
        dead = session.exec(select(DeadLetter).where(DeadLetter.message_id == mid)).one()
    assert dead.reason == "poison" and dead.step == "deliver"


def test_a_task_fetched_by_a_worker_that_died_is_reconciled_despite_its_marker(
    keel_env: dict[str, str], open_window_policy: str
) -> None:
    policy = get_policy()
    fetched = new_message(external_id="wa-fetched")
    waiting = new_message(external_id="wa-waiting")
    enqueue_many([("ingest", fetched, None), ("ingest", waiting, None)], policy=policy)
    # A worker takes the first task off the list (it now sits unacked) and dies.
    get_redis().rpop(f"{keel_env['KEEL_NAMESPACE']}:keel.ingest")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=policy.retries.stalled_after_s + 1)
    with session_scope() as session:
        session.execute(sa.update(Message).values(updated_at=old))
    assert reconcile(policy=policy) == 1
    assert actions(fetched)[-1] == "reconciled"
    assert "reconciled" not in actions(waiting)


def test_model_calls_of_a_run_that_lost_the_race_are_still_audited(
    simulator: str, open_window_policy: str
) -> None:
    import threading

    httpx.post(
        f"{simulator}/_sim/rules", json={"when": {"task": "classify"}, "latency_ms": 1500}
    ).raise_for_status()
    mid = new_message(external_id="wa-race")
    execute("ingest", mid)
    outcome: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: outcome.update(o=execute("classify", mid)))
    runner.start()
    time.sleep(0.5)  # the call is in flight; another worker commits first
    with session_scope() as session:
        session.execute(
            sa.update(Message).where(col(Message.id) == mid).values(version=Message.version + 1)
        )
    runner.join(10)
    assert outcome["o"].kind == "skipped"
    assert actions(mid).count("model_call") == 1
    assert load(mid).cost_usd > 0
