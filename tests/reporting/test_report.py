"""`keel report` totals equal the sums of the audit rows they summarise."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import select
from typer.testing import CliRunner

from app.cli import cli
from app.db import session_scope
from app.db.models import AuditEvent, Message
from app.policy import get_policy
from app.reporting import build_report
from tests.pipeline.test_steps import new_message, run_until_done

runner = CliRunner()
OPUS_IN, OPUS_OUT = Decimal(5), Decimal(25)  # published $ per million tokens


def _run_mix(simulator: str) -> None:
    rules = [
        {  # one classification fails over from Anthropic to OpenAI
            "when": {"provider": "anthropic", "task": "classify", "contains": "case-7"},
            "fail": {"status": 529, "rate": 1.0},
        },
        {  # one request every provider refuses: dead-lettered
            "when": {"contains": "case-9"},
            "fail": {"status": 400, "rate": 1.0},
        },
        {  # one draft quotes a price the catalog does not have: a guardrail hit
            "when": {"task": "draft", "contains": "case-5"},
            "respond": {"text": "¡Claro! El curso intensivo cuesta 399 € al mes."},
        },
    ]
    for rule in rules:
        httpx.post(f"{simulator}/_sim/rules", json=rule).raise_for_status()
    texts = [
        "Hola, ¿cuánto cuesta el curso intensivo de inglés? case-7",
        "Quanto custa o curso de espanhol A1?",
        "Thanks a lot, see you!",
        "I want a refund of my enrolment fee, money back please",
        "¿Cuándo empieza el curso? case-9",
        "¿Cuánto cuesta el curso intensivo? case-5",
    ]
    for i, text in enumerate(texts):
        run_until_done(new_message(text, external_id=f"wa-r{i}"))


def test_report_totals_equal_the_sums_of_the_audit_rows(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    _run_mix(simulator)
    with session_scope() as session:
        report = build_report(session, policy=get_policy())
        events = list(session.exec(select(AuditEvent)).all())
        messages = list(session.exec(select(Message)).all())
        message_cost = session.exec(select(sa.func.sum(Message.cost_usd))).one()
    calls = [e.detail for e in events if e.action == "model_call"]
    assert len(calls) >= 8
    # Cost and tokens: the sum of every model_call row, and of the messages' totals
    cost = sum((Decimal(c["keel.cost_usd"]) for c in calls), Decimal(0))
    assert report.cost_usd == cost == message_cost
    tokens_in = sum(int(c["gen_ai.usage.input_tokens"]) for c in calls)
    tokens_out = sum(int(c["gen_ai.usage.output_tokens"]) for c in calls)
    assert (report.input_tokens, report.output_tokens) == (tokens_in, tokens_out)
    # The counterfactual: every call's tokens at Opus prices, whichever model answered
    flagship = sum(
        (
            (
                OPUS_IN * int(c["gen_ai.usage.input_tokens"])
                + OPUS_OUT * int(c["gen_ai.usage.output_tokens"])
            )
            / 1_000_000
            for c in calls
        ),
        Decimal(0),
    )
    # (plus the calls not made: classifications and drafts of messages that needed none)
    cf = report.counterfactuals["flagship"]
    assert cf.actual_usd + cf.by_source["tiering"] + cf.by_source["caching"] == flagship
    avoided = sum((v for k, v in cf.by_source.items() if k not in ("tiering", "caching")), 0)
    assert report.flagship_cost_usd == flagship + avoided
    assert report.savings_usd == report.flagship_cost_usd - cost
    assert report.savings_ratio is not None and 0 < report.savings_ratio < 1
    standard = report.counterfactuals["standard"]
    assert standard.model == "anthropic:claude-sonnet-4-6"
    assert standard.savings_usd == sum(standard.by_source.values(), Decimal(0))
    # Counts: by state, by action, by provider, per reason
    assert report.by_state == dict(Counter(m.state for m in messages))
    assert report.by_state["sent"] == 2 and report.by_state["dead"] == 1
    assert report.actions == dict(Counter(e.action for e in events))
    assert report.calls_by_provider == dict(Counter(c["gen_ai.provider.name"] for c in calls))
    assert sum(g.calls for g in report.calls) == len(calls)
    assert report.failovers == dict(
        Counter(f"{e.detail['from']} -> {e.detail['to']}" for e in events if e.action == "failover")
    )
    assert report.failovers["anthropic:claude-haiku-4-5 -> openai:gpt-5-nano"] >= 1
    assert report.failover_total == sum(e.action == "failover" for e in events)
    assert report.dead_letters == {"provider_rejected": 1}
    assert report.escalations == dict(
        Counter(e.detail["reason"] for e in events if e.action == "escalated")
    )
    assert report.escalations["intent:refund_request"] == 1
    assert report.classified_by == {"fast": 5}
    assert sum(report.by_intent.values()) == 5
    hits = Counter(
        f"{e.detail.get('check')}:{e.detail.get('reason')}"
        for e in events
        if e.action == "guardrail"
        and e.detail.get("passed") is False
        and e.detail.get("check") != "send_window"
    )
    assert report.guardrail_hits == dict(hits) and len(hits) >= 1
    # Latency: one figure per model task and per step span that happened
    assert report.model_latency_ms["classify"].count == sum(
        c["keel.task"] == "classify" for c in calls
    )
    assert report.step_latency_s["received->classified"].count == 5
    assert report.step_latency_s["classified->drafted"].count == 3
    assert report.step_latency_s["drafted->sent"].count == 2
    assert report.step_latency_s["received->settled"].count == 6


def test_keel_report_json_prints_the_same_figures_and_since_narrows_them(
    simulator: str, receiver: Any, open_window_policy: str
) -> None:
    _run_mix(simulator)
    result = runner.invoke(cli, ["report", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    with session_scope() as session:
        report = build_report(session, policy=get_policy())
    assert printed["cost_usd"] == str(report.cost_usd)
    assert printed["flagship_cost_usd"] == str(report.flagship_cost_usd)
    assert printed["by_state"] == report.by_state and printed["messages"] == 6
    assert printed["guardrail_hits"] == report.guardrail_hits
    assert printed["latency_s_by_step"]["received->settled"]["count"] == 6
    later = json.loads(runner.invoke(cli, ["report", "--since", "2999-01-01", "--json"]).stdout)
    assert later["messages"] == 0 and later["cost_usd"] == "0" and later["failovers"] == 0
    human = runner.invoke(cli, ["report", "--since", "1h"])
    assert human.exit_code == 0 and "saved" in human.stdout
    assert runner.invoke(cli, ["report", "--since", "yesterday"]).exit_code == 2
