"""Rich renderings of report figures that `keel report` and the demo's summary share."""

from __future__ import annotations

from decimal import Decimal

from rich.table import Table

from app.reporting.conversions import Tally
from app.reporting.savings import Counterfactual, TierQuality


def money(value: dict[str, Decimal]) -> str:
    """`12.50 EUR, 900 BRL`, or `-` for nothing."""
    return ", ".join(f"{amount} {currency}" for currency, amount in sorted(value.items())) or "-"


def usd(value: Decimal | None) -> str:
    return "n/a" if value is None else f"${value:.6f}"


def tallies_table(title: str, rows: dict[str, Tally]) -> Table:
    """Count and value per key, most first; `(none)` when empty."""
    table = Table(title=title, title_justify="left", min_width=len(title))
    table.add_column(title.split(" ")[-1])
    table.add_column("count", justify="right")
    table.add_column("value", justify="right")
    for key, tally in sorted(rows.items(), key=lambda kv: (-kv[1].count, kv[0])):
        table.add_row(key, str(tally.count), money(tally.value))
    if not rows:
        table.add_row("(none)", "0", "-")
    return table


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def savings_table(counterfactuals: dict[str, Counterfactual]) -> Table:
    """Each counterfactual's cost and savings, and the savings by source."""
    table = Table(title="Savings against every message on one model", title_justify="left")
    table.add_column("")
    for cf in counterfactuals.values():
        table.add_column(f"all-{cf.tier} ({cf.model})", justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("had every message gone there", [usd(cf.cost_usd) for cf in counterfactuals.values()]),
        ("Keel spent", [usd(cf.actual_usd) for cf in counterfactuals.values()]),
        (
            "saved",
            [
                f"{usd(cf.savings_usd)} ({_ratio(cf.savings_ratio)})"
                for cf in counterfactuals.values()
            ],
        ),
    ]
    sources = next(iter(counterfactuals.values())).by_source if counterfactuals else {}
    for source in sources:
        rows.append(
            (
                f"  by {source.replace('_', ' ')}",
                [usd(cf.by_source[source]) for cf in counterfactuals.values()],
            )
        )
    for label, cells in rows:
        table.add_row(label, *cells)
    return table


def tiers_table(tiers: dict[str, TierQuality]) -> Table:
    """Per draft tier: share of drafts, guardrail block rate, escalation rate."""
    table = Table(title="Draft tiers", title_justify="left")
    for header in ("tier", "drafts", "share", "blocked", "block rate", "escalated", "rate"):
        table.add_column(header, justify="left" if header == "tier" else "right")
    for name, q in tiers.items():
        table.add_row(
            name,
            str(q.drafts),
            f"{q.share:.1%}",
            str(q.blocked),
            _ratio(q.block_rate),
            f"{q.escalated}/{q.messages}",
            _ratio(q.escalation_rate),
        )
    if not tiers:
        table.add_row("(none)", "0", "-", "0", "n/a", "0/0", "n/a")
    return table
