"""`keel parked list|drain`: messages parked by provider outages."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from app.broker import enqueue_many
from app.console import console, print_json
from app.db.models import utcnow
from app.pipeline.parking import oldest_parked, unpark

group = typer.Typer(help="Messages parked by outages.", no_args_is_help=True)


@group.command("list")
def list_(
    tier: str | None = typer.Option(None, help="Only this tier."),
    limit: int = typer.Option(200, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Parked messages, oldest first, with their tier, step and reason."""
    messages = oldest_parked(tier=tier, limit=limit)
    now = utcnow()
    rows = [
        {
            "id": m.id,
            "tier": m.parked_tier,
            "step": m.next_step,
            "reason": m.park_reason,
            "parked_at": m.parked_at.isoformat() if m.parked_at else None,
            "age_s": round((now - m.parked_at).total_seconds(), 1) if m.parked_at else None,
        }
        for m in messages
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} parked")
    for header in ("message", "tier", "step", "reason", "age (s)"):
        table.add_column(header)
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["tier"]),
            str(row["step"]),
            str(row["reason"]),
            str(row["age_s"]),
        )
    console.print(table)


@group.command("drain")
def drain(
    rate: float = typer.Option(20.0, help="At most N messages per second."),
    tier: str | None = typer.Option(None, help="Only this tier."),
    limit: int | None = typer.Option(None, help="At most N messages."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Release parked messages now, oldest first, without waiting for a probe."""
    from app.policy import get_policy

    policy = get_policy()
    drained = 0
    batch_size = max(1, int(rate))
    while limit is None or drained < limit:
        size = batch_size if limit is None else min(batch_size, limit - drained)
        messages = oldest_parked(tier=tier, limit=size)
        if not messages:
            break
        started = time.monotonic()
        batch = []
        for message in messages:
            step = unpark(message, actor="cli", reason="manual_drain")
            if step:
                batch.append((step, message.id, message.tier))
        drained += enqueue_many(batch, policy=policy)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    if as_json:
        print_json({"drained": drained})
    else:
        console.print(f"drained {drained} parked messages")
