"""One message's audit timeline as a table: what it received, what each model returned,
what each check said and what was sent (`keel trace`, the demo's closing trace)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from app.db.models import AuditEvent, Message

COLUMNS = ("time", "action", "step", "actor", "tier", "model", "ms", "tokens", "cost", "verdict")


def event_row(event: AuditEvent) -> list[str]:
    d = event.detail
    model = d.get("gen_ai.request.model") or d.get("model") or ""
    tokens = ""
    if "gen_ai.usage.input_tokens" in d:
        tokens = f"{d['gen_ai.usage.input_tokens']}/{d['gen_ai.usage.output_tokens']}"
    verdict = ""
    if event.action == "guardrail":
        verdict = f"{d.get('check')}: " + ("pass" if d.get("passed") else f"{d.get('reason')}")
    elif event.action == "model_call":
        verdict = str(d.get("keel.status", ""))
    elif event.action in ("escalated", "dead_lettered", "no_reply"):
        verdict = str(d.get("reason", ""))
    elif event.action == "classified":
        verdict = f"{d.get('intent')} {d.get('confidence')} -> {d.get('decision')}"
    elif event.action == "failover":
        verdict = f"{d.get('from')} -> {d.get('to')}"
    elif event.action in ("sent", "delivery_failed"):
        verdict = str(d.get("http_status") or d.get("target") or d.get("error") or "")
    return [
        event.at.strftime("%m-%d %H:%M:%S.%f")[:-3],
        event.action,
        event.step or "",
        event.actor,
        str(d.get("keel.tier") or d.get("tier") or ""),
        str(model),
        f"{d['keel.latency_ms']:.0f}" if "keel.latency_ms" in d else "",
        tokens,
        str(d.get("keel.cost_usd", "")),
        verdict,
    ]


def print_trace(console: Console, message: Message, events: list[AuditEvent]) -> None:
    """A header line for the message, then one row per audit event."""
    console.print(
        f"[bold]{message.id}[/] {message.channel}/{message.external_id} state=[bold]{message.state}"
        f"[/] intent={message.intent} lang={message.language} tier={message.tier} "
        f"cost=${message.cost_usd:.6f} trace={message.trace_id}"
    )
    table = Table(show_lines=False)
    for header in COLUMNS:
        table.add_column(header)
    for event in events:
        table.add_row(*event_row(event))
    console.print(table)
