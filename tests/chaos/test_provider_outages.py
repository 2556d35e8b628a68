"""Provider outages: the primary overloaded (failover, breakers open and close again) and
every provider down for a minute (messages park, then drain at the policy's rate)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from typing import NamedTuple

import pytest
from sqlmodel import col, select

from app.db import session_scope
from app.db.models import AuditEvent, utcnow
from app.policy import get_policy
from app.state import get_redis, keys
from tests.chaos.checks import check_every_model_call_audited, check_invariants
from tests.chaos.stack import ChaosStack, inbox_messages

MESSAGES = 300
NORMAL_MESSAGES = 150
SETTLE_TIMEOUT_S = 240
BREAKER_OPEN_S = 3
OUTAGE_S = 60
DRAIN_RATE_PER_S = 10.0
CONCURRENCY = 4
WORKING_STATES = ("received", "classified", "drafted")


def _model_calls_since(since: dt.datetime) -> list[AuditEvent]:
    with session_scope() as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "model_call", col(AuditEvent.at) >= since)
                .order_by(col(AuditEvent.at))
            ).all()
        )


class Move(NamedTuple):
    """One audited breaker transition."""

    at: dt.datetime
    model: str
    old: str
    new: str
    reason: str


def _breaker_moves(since: dt.datetime) -> list[Move]:
    """Every audited breaker transition since `since` (they belong to no message)."""
    with session_scope() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "breaker", col(AuditEvent.at) >= since)
            .order_by(col(AuditEvent.id))
        ).all()
    assert all(event.message_id is None for event in events)
    return [
        Move(e.at, e.detail["model"], e.detail["from"], e.detail["to"], e.detail["reason"])
        for e in events
    ]


def _model_of(event: AuditEvent) -> str:
    return f"{event.detail.get('gen_ai.provider.name')}:{event.detail.get('gen_ai.request.model')}"


def _breaker_state(model_key: str) -> str:
    raw = get_redis().hget(keys().breaker_state(model_key), "state")
    if isinstance(raw, bytes):
        return raw.decode()
    return raw or "closed"


@pytest.mark.slow
def test_primary_answering_529_moves_traffic_to_the_secondary_and_its_breakers_open_then_close(
    private_stack: ChaosStack,
) -> None:
    stack = private_stack
    stack.set_policy(open_s=BREAKER_OPEN_S)
    policy = get_policy()
    primaries = {
        ref.key
        for tier in ("fast", "standard")
        for ref in policy.tiers[tier].chain
        if ref.provider == "anthropic"
    }
    stack.start_worker(concurrency=CONCURRENCY)
    stack.start_beat()
    stack.start_api()
    # Given a warmed-up worker (its first tasks pay for imports) and a batch processed
    # normally, for the throughput to compare with
    ids = stack.post_messages(inbox_messages(10, tag="warm"))
    stack.settle(120)
    posted = time.monotonic()
    ids += stack.post_messages(inbox_messages(NORMAL_MESSAGES, tag="normal"))
    stack.settle(SETTLE_TIMEOUT_S)
    normal_rate = NORMAL_MESSAGES / (time.monotonic() - posted)

    # When the primary provider answers 529 (overloaded) to everything, and 300 arrive
    stack.add_rule({"name": "overloaded", "when": {"provider": "anthropic"},
                    "fail": {"status": 529, "rate": 1.0}}, first=True)  # fmt: skip
    overloaded_at, overloaded = utcnow(), time.monotonic()
    ids += stack.post_messages(inbox_messages(MESSAGES, tag="overload"))
    stack.settle(SETTLE_TIMEOUT_S)
    overload_rate = MESSAGES / (time.monotonic() - overloaded)

    # Then the calls go to the secondary, each failover audited
    calls = _model_calls_since(overloaded_at)
    by_provider = Counter(e.detail.get("gen_ai.provider.name") for e in calls)
    first_fallback = next(
        e.at for e in calls
        if e.detail.get("gen_ai.provider.name") == "openai" and e.detail.get("keel.status") == "ok"
    )  # fmt: skip
    assert by_provider["openai"] >= MESSAGES, by_provider
    findings = check_invariants(stack, ids)
    assert findings.actions["failover"] >= MESSAGES // 2
    assert findings.states["dead"] == 0, findings.dead_reasons

    # And the breaker of every primary model in use opens (audited closed -> open); from
    # then on that model only gets its half-open trial calls (and the calls already in
    # flight when it opened): the others go straight to the secondary
    moves = _breaker_moves(overloaded_at)
    opened: dict[str, dt.datetime] = {}
    for move in moves:
        if (move.old, move.new) == ("closed", "open"):
            opened.setdefault(move.model, move.at)
    assert primaries <= set(opened), moves
    for model, opened_at in opened.items():
        later_calls = sum(1 for e in calls if _model_of(e) == model and e.at > opened_at)
        trials = sum(1 for m in moves if m.model == model and m.new == "half_open")
        assert later_calls <= trials + 2 * CONCURRENCY, (model, later_calls, trials)
    skipped = Counter(
        e.detail["from"] for e in stack.events("failover") if e.detail["reason"] == "breaker_open"
    )
    assert primaries <= set(skipped), skipped

    # When the primary recovers and a trickle of traffic goes on
    stack.sim("DELETE", "/_sim/rules")
    recovered_at, recovered = utcnow(), time.monotonic()
    trickle = inbox_messages(120, tag="trickle")
    sent = 0

    def closed_again() -> bool:
        return all(_breaker_state(model) == "closed" for model in opened)

    while not closed_again() and time.monotonic() - recovered < 90 and sent < len(trickle):
        ids += stack.post_messages(trickle[sent : sent + 2])
        sent += 2
        time.sleep(0.5)

    # Then every breaker that opened closes again after a good trial call (or probe),
    # audited, and calls flow to the primary again
    assert closed_again(), {model: _breaker_state(model) for model in opened}
    closes = {
        m.model for m in _breaker_moves(recovered_at)
        if m.new == "closed" and m.reason in ("trial_ok", "probe_ok")
    }  # fmt: skip
    assert set(opened) <= closes, _breaker_moves(recovered_at)
    stack.settle(SETTLE_TIMEOUT_S)
    findings = check_invariants(stack, ids)
    after = Counter(
        e.detail.get("gen_ai.provider.name")
        for e in _model_calls_since(recovered_at)
        if e.detail.get("keel.status") == "ok"
    )
    assert after["anthropic"] > 0, after
    check_every_model_call_audited(stack, findings)
    print(
        "CHAOS "
        + json.dumps(
            {
                "scenario": "primary_529",
                "messages_normal": NORMAL_MESSAGES,
                "messages_during_overload": MESSAGES,
                "s_until_first_fallback_success": round(
                    (first_fallback - overloaded_at).total_seconds(), 3
                ),
                "rate_normal_msgs_per_s": round(normal_rate, 1),
                "rate_overloaded_msgs_per_s": round(overload_rate, 1),
                "throughput_ratio": round(overload_rate / normal_rate, 2),
                "calls_during_overload": dict(by_provider),
                "s_until_breaker_opened": {
                    model: round((at - overloaded_at).total_seconds(), 2)
                    for model, at in sorted(opened.items())
                },
                "s_until_breakers_closed": round(time.monotonic() - recovered, 1),
                "trickle_messages": sent,
                "states": dict(findings.states),
            }
        )
    )


@pytest.mark.slow
def test_every_provider_down_for_a_minute_parks_messages_which_drain_at_the_policy_rate(
    private_stack: ChaosStack,
) -> None:
    stack = private_stack
    stack.set_policy(drain_rate_per_s=DRAIN_RATE_PER_S)
    stack.start_worker(concurrency=4)
    stack.start_beat()
    stack.start_api()
    # Given every provider down for 60 s
    started_at = utcnow()
    stack.outage("anthropic", seconds=OUTAGE_S)
    stack.outage("openai", seconds=OUTAGE_S)
    outage_ends, outage_ends_at = (
        time.monotonic() + OUTAGE_S,
        utcnow() + dt.timedelta(seconds=OUTAGE_S),
    )

    # When 300 messages arrive
    ids = stack.post_messages(inbox_messages(MESSAGES, tag="down"))

    # Then every message that needs a model parks (in the database, audited); the few
    # that need none (escalated by the input checks) settle; none is dead-lettered
    def all_waiting() -> bool:
        states = stack.states()
        return states["parked"] > 0 and not any(states[s] for s in WORKING_STATES)

    assert stack.wait_until(all_waiting, OUTAGE_S - 5), stack.states()
    assert time.monotonic() < outage_ends, "the outage ended before every message parked"
    during = stack.states()
    parked_ids = {e.message_id for e in stack.events("parked")}
    assert len(parked_ids) == during["parked"] > MESSAGES * 0.8, during
    assert during["dead"] == 0 and during["sent"] == 0, during
    ok_calls = [e for e in _model_calls_since(started_at) if e.detail.get("keel.status") == "ok"]
    assert ok_calls == []

    # And after the outage they drain by themselves, at the configured rate, each sent once
    counts = stack.settle(OUTAGE_S + SETTLE_TIMEOUT_S)
    findings = check_invariants(stack, ids)
    assert findings.states["dead"] == 0, (counts, findings.dead_reasons)
    assert findings.states["sent"] > MESSAGES // 2, findings.states
    assert all(len(posts) == 1 for posts in findings.posts.values())
    unparked = stack.events("unparked")
    assert {e.message_id for e in unparked} == parked_ids
    times = sorted(e.at for e in unparked)
    span_s = (times[-1] - times[0]).total_seconds()
    rate = (len(times) - 1) / span_s
    assert 0.5 * DRAIN_RATE_PER_S <= rate <= 1.5 * DRAIN_RATE_PER_S, rate
    check_every_model_call_audited(stack, findings)
    first_drained_after_s = round((times[0] - outage_ends_at).total_seconds(), 1)
    print(
        "CHAOS "
        + json.dumps(
            {
                "scenario": "all_providers_down",
                "messages": MESSAGES,
                "outage_s": OUTAGE_S,
                "parked": len(parked_ids),
                "unparked_events": len(unparked),
                "drain_span_s": round(span_s, 1),
                "drain_rate_per_s": round(rate, 2),
                "configured_drain_rate_per_s": DRAIN_RATE_PER_S,
                "first_drained_after_s": first_drained_after_s,
                "states": dict(findings.states),
            }
        )
    )
