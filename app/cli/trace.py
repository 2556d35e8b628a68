"""`keel trace ID`: the whole audit timeline of one message."""

from __future__ import annotations

import typer
from rich.table import Table

from app.api.models import MessagePublic
from app.audit import timeline
from app.cli.output import console, print_json
from app.db import session_scope
from app.db.models import AuditEvent, Message


def _row(event: AuditEvent) -> list[str]:
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


def trace(
    message_id: str = typer.Argument(..., help="Message id (uuid)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show what one message received, what each model returned, and what was sent."""
    with session_scope() as session:
        message = session.get(Message, message_id)
        if message is None:
            console.print(f"no message {message_id}")
            raise typer.Exit(1)
        events = timeline(session, message_id)
    if as_json:
        # The same document as GET /v1/messages/{id}, by construction.
        print_json(MessagePublic.of(message, events).model_dump(mode="json"))
        return
    console.print(
        f"[bold]{message.id}[/] {message.channel}/{message.external_id} state=[bold]{message.state}"
        f"[/] intent={message.intent} lang={message.language} tier={message.tier} "
        f"cost=${message.cost_usd:.6f} trace={message.trace_id}"
    )
    table = Table(show_lines=False)
    for header in (
        "time",
        "action",
        "step",
        "actor",
        "tier",
        "model",
        "ms",
        "tokens",
        "cost",
        "verdict",
    ):
        table.add_column(header)
    for event in events:
        table.add_row(*_row(event))
    console.print(table)
