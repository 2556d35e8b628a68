"""The demo's closing summary (SPEC 10), printed with Rich."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from app.audit import timeline
from app.console import console
from app.db import session_scope
from app.db.models import Message
from app.demo.receiver import WebhookReceiver
from app.policy import get_policy
from app.reporting import build_report
from app.reporting.trace import print_trace


def _table(title: str, rows: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(title.split(" ")[0].lower())
    table.add_column("count", justify="right")
    for key, value in sorted(rows.items(), key=lambda kv: -kv[1]):
        table.add_row(key, str(value))
    if not rows:
        table.add_row("(none)", "0")
    return table


def print_summary(
    *, receiver: WebhookReceiver, elapsed_s: float, messages: int, sample_id: str | None
) -> None:
    with session_scope() as session:
        s = build_report(session, policy=get_policy())
    calls: Counter[str] = Counter()
    for group in s.calls:
        calls[f"{group.tier}:{group.provider}:{group.status}"] += group.calls
    settled = s.step_latency_s.get("received->settled")
    accepted = receiver.accepted()
    keys = {p.idempotency_key for p in accepted}
    console.rule("[bold]Keel demo summary")
    console.print(_table("States (final)", s.by_state))
    console.print(
        f"Replies sent: [bold]{s.by_state.get('sent', 0)}[/] "
        f"(webhook received {len(accepted)} POSTs, "
        f"{len(keys)} distinct Idempotency-Keys, "
        f"{sum(p.signature_ok for p in accepted)} with a valid signature)"
    )
    console.print(_table("Escalations by reason", s.escalations))
    console.print(_table("Guardrail blocks", s.guardrail_hits))
    console.print(_table("Dead letters by reason", s.dead_letters))
    console.print(_table("Model calls (tier:provider:status)", dict(calls)))
    console.print(
        f"Failovers: [bold]{s.failover_total}[/]   parked: {s.actions.get('parked', 0)}   "
        f"drained: {s.actions.get('unparked', 0)}"
    )
    savings = f"{s.savings_ratio:.1%}" if s.savings_ratio is not None else "n/a"
    console.print(
        f"Cost: [bold]${s.cost_usd:.4f}[/] against ${s.flagship_cost_usd:.4f} had every call "
        f"gone to the flagship tier: [bold green]{savings} saved[/]"
    )
    p50 = f"{settled.p50:.2f}" if settled and settled.p50 is not None else "n/a"
    p95 = f"{settled.p95:.2f}" if settled and settled.p95 is not None else "n/a"
    console.print(
        f"Latency received->settled: p50 {p50} s, p95 {p95} s; "
        f"{messages} messages in {elapsed_s:.1f} s = "
        f"[bold]{messages / max(elapsed_s, 1e-9):.1f} msg/s[/]"
    )
    if sample_id:
        console.rule(f"[bold]keel trace {sample_id}")
        with session_scope() as session:
            message = session.get(Message, sample_id)
            events = timeline(session, sample_id)
        if message is not None:
            print_trace(console, message, events)
