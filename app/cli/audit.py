"""`keel audit verify`: recompute every message's hash chain and name the broken ones."""

from __future__ import annotations

import typer

from app.audit.verify import verify_all
from app.console import console, print_json

group = typer.Typer(help="The audit record.", no_args_is_help=True)


@group.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check every audit hash chain; exit 1 naming each broken message and its first bad seq."""
    report = verify_all()
    if as_json:
        print_json(
            {
                "intact": report.intact,
                "messages": report.messages,
                "events": report.events,
                "broken": [
                    {"message_id": b.message_id, "seq": b.seq, "event_id": b.event_id}
                    for b in report.broken
                ],
            }
        )
    else:
        for broken in report.broken:
            where = broken.message_id or f"event {broken.event_id} (no message)"
            console.print(f"[red]broken[/] {where} at seq {broken.seq}")
        verdict = (
            "[green]every chain intact[/]"
            if report.intact
            else f"[red]{len(report.broken)} broken chain(s)[/]"
        )
        console.print(f"{report.messages} messages, {report.events} events checked: {verdict}")
    if not report.intact:
        raise typer.Exit(1)
