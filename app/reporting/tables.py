"""Rich renderings of report figures that `keel report` and the demo's summary share."""

from __future__ import annotations

from decimal import Decimal

from rich.table import Table

from app.reporting.conversions import Tally


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
