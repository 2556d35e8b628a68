"""The demo's conversation threads: paced as the policy's quiet period needs, played over the
API against a real worker, beat and simulator, and summed up in the demo's summary."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, func, select

from app.config import reset_settings
from app.console import console
from app.db import session_scope
from app.db.models import AuditEvent, Message, Outcome, Review
from app.demo import procs
from app.demo.report import Webhook, print_figures, print_summary
from app.demo.threads import DemoThread, Pace, Played, ThreadPlayer, load_threads
from app.policy import get_policy
from app.reporting import Conversions, Report, Tally, build_report
from tests.helpers import API_KEY, REVIEWER_KEY, always_open_policy

COALESCE_S = 3
# One thread of each kind the summary has a line for, five with an outcome between them.
PLAYED = ("t-01", "t-10", "t-19", "t-24", "t-26", "t-38")
PENDING = ("received", "classified", "drafted", "parked")


def _flat(text: str) -> str:
    """Captured Rich output with its line wrapping undone."""
    return " ".join(text.split())


# ---------------------------------------------------------------------- pace and payload


@pytest.mark.parametrize("scale", [0.3, 0.5, 1.0, 2.0])
def test_a_burst_stays_a_burst_and_a_new_turn_waits_out_the_quiet_period(scale: float) -> None:
    pace = Pace(coalesce_s=8.0, scale=scale)
    for thread in load_threads():
        for message in thread.messages[1:]:
            gap_s = pace.gap_s(message.delay_s)
            if thread.kind == "burst":
                assert pace.is_burst(message.delay_s) and gap_s < pace.coalesce_s, thread
            else:
                assert not pace.is_burst(message.delay_s), thread
                assert gap_s > pace.coalesce_s, thread


def test_a_message_written_hours_ago_is_posted_with_that_time_and_the_rest_without() -> None:
    threads = {t.thread: t for t in load_threads()}
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)

    old = threads["t-38"].payload(0, now=now)
    fresh = threads["t-06"].payload(0, now=now)

    assert dt.datetime.fromisoformat(old["received_at"]) == now - dt.timedelta(hours=30)
    assert old["external_id"] == "t-38-m1" and old["conversation_id"] == "conv-t38"
    assert "received_at" not in fresh and "conversation_id" not in fresh
    assert threads["t-06"].conversation == "c-t06"  # the outcome names the contact


# ---------------------------------------------------------------------- the summary


def _hand_built_report() -> Report:
    conversions = Conversions(
        kinds=("enrolled", "booked_call"),
        total=Tally(count=3, value={"EUR": Decimal("450.00"), "BRL": Decimal("2300.00")}),
        by_tier={"standard": Tally(count=3, value={"EUR": Decimal("450.00")})},
        by_answerer={
            "standard": Tally(count=2, value={"EUR": Decimal("450.00")}),
            "human": Tally(count=1, value={"BRL": Decimal("2300.00")}),
        },
        not_converted=1,
        conversations=3,
        conversations_cost_usd=Decimal("0.0030"),
        overall_cost_usd=Decimal("0.0300"),
    )
    return Report(
        since=None,
        by_state={"sent": 10, "no_reply": 25, "escalated": 7},
        actions={"handoff": 4, "opted_out": 5},
        escalations={"handoff": 4, "reply_window_closed": 3},
        no_replies={"coalesced": 18, "superseded": 2, "opted_out": 6},
        contacts_opted_out=5,
        conversions=conversions,
    )


def test_the_summary_prints_every_conversation_figure_of_a_hand_built_report() -> None:
    played = [
        Played(thread="t-24", kind="handoff", channel="whatsapp", conversation="conv-t24"),
        Played(thread="t-26", kind="handoff", channel="email", conversation="conv-t26"),
    ]
    played[0].review, played[1].review = "rejected", "approved"
    played[1].outcome_id = "o-1"

    with console.capture() as captured:
        print_figures(
            _hand_built_report(),
            webhook=Webhook(posts=10, keys=10, signed=10),
            elapsed_s=5.0,
            messages=42,
            played=played,
        )
    text = _flat(captured.get())

    assert "Conversation threads: 2 played (2 handoff)" in text
    assert "reviews decided by a person: 1 approved, 1 rejected; outcomes posted: 1" in text
    assert "Bursts: 18 messages coalesced" in text
    assert "superseded: 2 unsent replies withdrawn" in text
    assert "Opt-outs: 5 contacts opted out (5 opt-out messages); 6 messages withdrawn" in text
    assert "Handoffs: 4 conversations taken over by a person; 4 later messages" in text
    assert "Reply windows closed: 3 replies escalated" in text
    assert "Conversions: 3 worth 2300.00 BRL, 450.00 EUR in 3 conversations" in text
    assert "not converted (lost): 1" in text
    assert "Conversions by tier" in text and "by answerer" in text and "human" in text
    assert "Model cost per conversion: $0.001000" in text
    assert "$0.010000 counting all model cost" in text


def test_a_report_counts_the_conversation_figures_in_its_json() -> None:
    figures = _hand_built_report().as_dict()["conversations"]

    assert figures == {
        "coalesced": 18,
        "superseded": 2,
        "opt_outs": 5,
        "contacts_opted_out": 5,
        "opted_out_messages": 6,
        "handoffs": 4,
        "handoff_escalations": 4,
        "reply_windows_closed": 3,
    }


# ---------------------------------------------------------------------- the real stack


@pytest.fixture
def stack(
    monkeypatch: pytest.MonkeyPatch,
    keel_env: dict[str, str],
    simulator: str,
    receiver: Any,
    tmp_path: Path,
) -> Iterator[str]:
    """A worker, beat and the API as real processes, bursts waited for COALESCE_S and the
    send window always open; yields the API's base URL."""
    policy = always_open_policy(tmp_path, **{"coalesce_s = 0\n": f"coalesce_s = {COALESCE_S}\n"})
    keel_env["KEEL_POLICY"] = policy
    monkeypatch.setenv("KEEL_POLICY", policy)
    reset_settings()
    group = procs.Processes(tmp_path)
    env = {**os.environ, **keel_env}
    port = procs.free_port()
    try:
        group.start("worker", procs.worker_argv(concurrency=4, name="demo-threads"), env)
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


def _play(api: str, threads: list[DemoThread], timeout_s: float = 240) -> list[Played]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    pace = Pace(coalesce_s=COALESCE_S, scale=0.3, rest_timeout_s=90, poll_s=0.25)
    with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
        player = ThreadPlayer(
            client=client, threads=threads, pace=pace, reviewer_key=REVIEWER_KEY
        ).start()
        deadline = time.monotonic() + timeout_s
        try:
            while not player.done() and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            player.stop()
        return player.results()


def _pending() -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).where(col(Message.state).in_(PENDING))).one())


@pytest.mark.slow
def test_the_threads_play_over_the_api_and_the_summary_counts_what_they_did(
    stack: str, receiver: Any
) -> None:
    threads = [t for t in load_threads() if t.thread in PLAYED]
    assert [t.kind for t in threads] == [
        "burst", "follow_up", "opt_out", "handoff", "handoff", "old_whatsapp",
    ]  # fmt: skip

    played = {p.thread: p for p in _play(stack, threads)}

    assert _pending() == 0
    for p in played.values():
        assert p.error is None and p.timed_out == 0, p
    assert played["t-24"].review == "rejected"  # its outcome is `lost`
    assert played["t-26"].review == "approved"
    assert {t for t, p in played.items() if p.outcome_id} == {"t-01", "t-10", "t-24"}
    with session_scope() as session:
        report = build_report(session, policy=get_policy())
        decided = {r.status for r in session.exec(select(Review)).all()}
        # each outcome came after every reply of its conversation was out
        for outcome in session.exec(select(Outcome)).all():
            last_sent = session.exec(
                select(func.max(AuditEvent.at))
                .join(Message, col(Message.id) == col(AuditEvent.message_id))
                .where(
                    Message.conversation_ref == outcome.conversation_ref,
                    AuditEvent.action == "sent",
                )
            ).one()
            assert last_sent is None or last_sent <= outcome.created_at, outcome.external_id
    assert {"approved", "rejected"} <= decided
    assert report.coalesced == 2  # t-01's first two fragments
    assert report.contacts_opted_out == 1 and report.opt_outs == 1
    assert report.opted_out_messages == 1  # t-19's message after BAJA
    assert report.handoffs == 2 and report.handoff_escalations == 2
    assert report.reply_windows_closed == 1  # t-38, written 30 hours ago
    conversions = report.conversions
    assert conversions.count == 2 and conversions.not_converted == 1
    assert conversions.total.value == {"EUR": Decimal("450.00"), "BRL": Decimal("2300.00")}
    human = {p.body.get("text") for p in receiver.accepted()}
    assert any(text and text.startswith("Hi Daniel, this is Marta") for text in human)

    with console.capture() as captured:
        print_summary(
            receiver=receiver,
            elapsed_s=1.0,
            messages=sum(len(p.message_ids) for p in played.values()),
            sample_id=played["t-10"].message_ids[0],
            played=list(played.values()),
            conversation=("whatsapp", "conv-t10"),
        )
    text = _flat(captured.get())
    assert "Bursts: 2 messages coalesced" in text
    assert "Opt-outs: 1 contacts opted out" in text
    assert "Handoffs: 2 conversations taken over by a person" in text
    assert "Reply windows closed: 1 replies escalated" in text
    assert "Conversions: 2 worth 2300.00 BRL, 450.00 EUR" in text
    assert "keel conversation show whatsapp conv-t10" in text
    assert "whatsapp/conv-t10 contact=c-t10" in text and "¿y en reales?" in text
