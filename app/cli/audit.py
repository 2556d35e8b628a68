"""`keel audit verify`: check every message's chain against its head and name each break."""

from __future__ import annotations

import typer

from app.audit.verify import VerifyReport, verify_all
from app.console import console, print_json

group = typer.Typer(help="The audit record.", no_args_is_help=True)


def _hints(report: VerifyReport) -> list[str]:
    kinds = report.by_kind()
    hints = []
    if "unknown_key" in kinds:
        hints.append(
            "unknown_key: events keyed with another KEEL_AUDIT_KEY than this one (or none is set)"
        )
    if report.keyed and report.key_registered_at is None and "unkeyed" in kinds:
        hints.append(
            "KEEL_AUDIT_KEY was never registered here, so every event must be keyed: "
            "`keel db upgrade` registers it (events before that may be plain SHA-256)"
        )
    return hints


@group.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check every audit chain against its message's head; exit 1 naming each broken
    message, the kind of break (missing_tail, gap, broken_link, bad_hash, no_received,
    head_mismatch, unkeyed, unknown_key, no_message) and its first seq."""
    report = verify_all()
    if as_json:
        print_json(
            {
                "intact": report.intact,
                "messages": report.messages,
                "events": report.events,
                "keyed": report.keyed,
                "broken": [
                    {
                        "message_id": b.message_id,
                        "kind": b.kind,
                        "seq": b.seq,
                        "event_id": b.event_id,
                    }
                    for b in report.broken
                ],
                "by_kind": report.by_kind(),
            }
        )
    else:
        for broken in report.broken:
            where = broken.message_id or f"event {broken.event_id} (no message)"
            at = "" if broken.seq is None else f" at seq {broken.seq}"
            console.print(f"[red]{broken.kind}[/] {where}{at}")
        for hint in _hints(report):
            console.print(f"[yellow]{hint}[/]")
        scheme = "HMAC-SHA256 with KEEL_AUDIT_KEY" if report.keyed else "SHA-256, no key"
        if report.intact:
            verdict = "[green]every chain intact[/]"
        else:
            messages = len({b.message_id or f"#{b.event_id}" for b in report.broken})
            kinds = ", ".join(f"{kind} {n}" for kind, n in report.by_kind().items())
            verdict = f"[red]{messages} broken chain(s): {kinds}[/]"
        console.print(
            f"{report.messages} messages, {report.events} events checked ({scheme}): {verdict}"
        )
    if not report.intact:
        raise typer.Exit(1)
