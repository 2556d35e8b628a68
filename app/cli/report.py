"""`keel report [--since T] [--json]`: counts, cost against all-flagship, latency,
conversions."""

from __future__ import annotations

import typer
from rich.columns import Columns
from rich.table import Table

from app.console import console, print_json
from app.db import session_scope, utcnow
from app.policy import get_policy
from app.reporting import Conversions, Report, build_report, parse_since
from app.reporting.latency import Latency
from app.reporting.tables import money, savings_table, tallies_table, tiers_table, usd


def _counts(title: str, rows: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left", min_width=len(title))
    table.add_column(title.split(" ")[-1])
    table.add_column("count", justify="right")
    for key, value in sorted(rows.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(key, str(value))
    if not rows:
        table.add_row("(none)", "0")
    return table


def _latency(title: str, rows: dict[str, Latency], unit: str, fmt: str) -> Table:
    table = Table(title=title, title_justify="left")
    for header in ("", "count", f"p50 {unit}", f"p95 {unit}"):
        table.add_column(header, justify="right" if header else "left")
    for name, lat in rows.items():
        p50 = format(lat.p50, fmt) if lat.p50 is not None else "n/a"
        p95 = format(lat.p95, fmt) if lat.p95 is not None else "n/a"
        table.add_row(name, str(lat.count), p50, p95)
    return table


def _print_conversions(c: Conversions) -> None:
    console.print(
        f"Conversions ({', '.join(c.kinds) or 'no converting kinds'}): [bold]{c.count}[/] "
        f"worth {money(c.total.value)} in {c.conversations} conversations; "
        f"not converted (lost): {c.not_converted}; "
        f"classified by the local tier: {c.classified_locally}"
    )
    tables = [
        tallies_table("Conversions by kind", c.by_kind),
        tallies_table("Conversions by tier", c.by_tier),
        tallies_table("Conversions by intent", c.by_intent),
        tallies_table("Conversions by language", c.by_language),
        tallies_table("Conversions by answerer", c.by_answerer),
    ]
    console.print(Columns(tables))
    console.print(
        f"Model cost per conversion: [bold]{usd(c.cost_per_conversion_usd)}[/] "
        f"(the converted conversations' {usd(c.conversations_cost_usd)}); "
        f"{usd(c.overall_cost_per_conversion_usd)} counting all model cost"
    )


def _print(r: Report) -> None:
    scope = f"since {r.since.isoformat()}" if r.since else "all time"
    console.rule(f"[bold]Keel report ({scope}): {r.messages} messages")
    tables = []
    for title, rows in (
        ("Messages by state", r.by_state),
        ("Messages by tier", r.by_tier),
        ("Messages by intent", r.by_intent),
        ("Messages by language", r.by_language),
        ("Classified by tier", r.classified_by),
        ("Model calls by provider", r.calls_by_provider),
        ("Escalations by reason", r.escalations),
        ("Dead letters by reason", r.dead_letters),
        ("Guardrail hits by check:reason", r.guardrail_hits),
        ("Failovers by route", r.failovers),
    ):
        tables.append(_counts(title, rows))
    console.print(Columns(tables))
    calls = Table(title="Model calls", title_justify="left")
    for header in ("task", "tier", "model", "status", "calls", "tokens in", "tokens out", "cost"):
        calls.add_column(header, justify="right" if header in ("calls", "cost") else "left")
    for c in sorted(r.calls, key=lambda c: (c.task, c.tier, c.provider, c.model, c.status)):
        calls.add_row(
            c.task,
            c.tier,
            f"{c.provider}:{c.model}",
            c.status,
            str(c.calls),
            str(c.input_tokens),
            str(c.output_tokens),
            f"${c.cost_usd:.6f}",
        )
    console.print(calls)
    console.print(
        f"Failovers: [bold]{r.failover_total}[/]   parked: {r.actions.get('parked', 0)}   "
        f"drained: {r.actions.get('unparked', 0)}"
    )
    console.print(
        f"Cost: [bold]${r.cost_usd:.6f}[/] for {r.input_tokens} input tokens "
        f"({r.cache_read_tokens} read from and {r.cache_write_tokens} written to a prompt "
        f"cache) and {r.output_tokens} output tokens"
    )
    console.print(savings_table(r.counterfactuals))
    console.print(tiers_table(r.tiers))
    console.print(_latency("Model call latency by task", r.model_latency_ms, "ms", ".0f"))
    console.print(_latency("Time between steps", r.step_latency_s, "s", ".2f"))
    _print_conversions(r.conversions)


def report(
    since: str | None = typer.Option(
        None, "--since", help="ISO 8601 time, or a span back from now: 90m, 24h, 7d."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Counts by state, tier, intent, provider and reason; cost against all-standard and
    all-flagship, by source; each draft tier's block and escalation rates; latency;
    conversions and the model cost per conversion."""
    try:
        start = parse_since(since, now=utcnow()) if since else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from exc
    with session_scope() as session:
        r = build_report(session, policy=get_policy(), since=start)
    if as_json:
        print_json(r.as_dict())
    else:
        _print(r)
