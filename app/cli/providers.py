"""`keel providers`: breaker state and recent error rate per provider and model."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from app.console import console, print_json
from app.policy import get_policy
from app.providers.health import breaker_for


def providers(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every model of every tier: breaker state, calls and failures in the window."""
    policy = get_policy()
    now = time.time()
    rows = []
    for tier_name, tier in policy.tiers.items():
        for ref in tier.chain:
            breaker = breaker_for(policy, ref)
            state, open_until = breaker.state()
            stats = breaker.window(now=now)
            rows.append(
                {
                    "tier": tier_name,
                    "model": ref.key,
                    "state": str(state),
                    "open_for_s": round(max(0.0, open_until - now), 1) if open_until else 0.0,
                    "calls": stats.calls,
                    "failures": stats.failures,
                    "slow": stats.slow,
                    "error_rate": round(stats.failure_rate, 3),
                    "held_for_s": round(breaker.held_for_s(), 1),
                }
            )
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"providers (last {policy.breakers.window_s:.0f} s)")
    for header in ("tier", "model", "breaker", "calls", "failures", "slow", "error rate"):
        table.add_column(header)
    colours = {"closed": "green", "open": "red", "half_open": "yellow"}
    for row in rows:
        shown = str(row["state"])
        table.add_row(
            str(row["tier"]),
            str(row["model"]),
            f"[{colours[shown]}]{shown}[/]",
            str(row["calls"]),
            str(row["failures"]),
            str(row["slow"]),
            f"{float(row['error_rate']):.0%}",  # type: ignore[arg-type]
        )
    console.print(table)
