"""`keel dlq list|show|replay|purge`: the dead-letter queue, from the command line."""

from __future__ import annotations

import time
from collections import Counter

import typer
from rich.progress import Progress
from rich.table import Table

from app.cli.timearg import optional_time, parse_time
from app.console import console, err_console, print_json
from app.db.models import DeadLetter
from app.deadletter.replay import (
    DeadLetterFilter,
    get_dead_letter,
    list_dead_letters,
    replay_one,
)
from app.deadletter.replay import (
    purge as purge_entries,
)
from app.policy import get_policy

group = typer.Typer(help="Dead letters: list, show, replay, purge.", no_args_is_help=True)


def _as_dict(entry: DeadLetter) -> dict[str, object]:
    return {
        "id": entry.id,
        "message_id": entry.message_id,
        "reason": entry.reason,
        "step": entry.step,
        "attempts": entry.attempts,
        "last_error": entry.last_error,
        "created_at": entry.created_at.isoformat(),
        "replayed_at": entry.replayed_at.isoformat() if entry.replayed_at else None,
    }


@group.command("list")
def list_(
    reason: str | None = typer.Option(None, help="Only this reason code."),
    since: str | None = typer.Option(None, help="ISO 8601 time or an age like 2h."),
    all_: bool = typer.Option(False, "--all", help="Include entries already replayed."),
    limit: int = typer.Option(200, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Dead letters with reason, step, attempts and last error, oldest first."""
    entries = list_dead_letters(
        DeadLetterFilter(
            reason=reason, since=optional_time(since), include_replayed=all_, limit=limit
        )
    )
    if as_json:
        print_json([_as_dict(e) for e in entries])
        return
    table = Table(title=f"{len(entries)} dead letters")
    for header in ("id", "message", "reason", "step", "attempts", "when", "last error"):
        table.add_column(header)
    for e in entries:
        table.add_row(
            str(e.id),
            e.message_id or "",
            e.reason,
            e.step or "",
            str(e.attempts),
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            (e.last_error or "")[:60],
        )
    console.print(table)


@group.command("show")
def show(
    entry_id: int = typer.Argument(..., help="Dead-letter id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One dead letter in full."""
    entry = get_dead_letter(entry_id)
    if entry is None:
        err_console.print(f"no dead letter {entry_id}")
        raise typer.Exit(1)
    if as_json:
        print_json(_as_dict(entry))
        return
    for key, value in _as_dict(entry).items():
        console.print(f"[bold]{key}[/]: {value}")
    console.print(f"trace: keel trace {entry.message_id}")


@group.command("replay")
def replay(
    ids: list[int] = typer.Option([], "--id", help="Dead-letter id (repeatable)."),
    reason: str | None = typer.Option(None, help="Every entry with this reason."),
    since: str | None = typer.Option(None, help="Entries since an ISO time or age (2h)."),
    all_: bool = typer.Option(False, "--all", help="Every entry not yet replayed."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be replayed."),
    rate: float = typer.Option(0.0, help="At most N per second (0: as fast as possible)."),
    limit: int | None = typer.Option(None, help="At most N entries."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Re-enqueue messages at the step that failed. Replaying an entry twice is a no-op."""
    if not (ids or reason or since or all_):
        raise typer.BadParameter("say which: --id, --reason, --since or --all")
    entries = list_dead_letters(
        DeadLetterFilter(
            ids=tuple(ids),
            reason=reason,
            since=optional_time(since),
            include_replayed=bool(ids),
            limit=limit,
        )
    )
    outcomes: Counter[str] = Counter()
    replayed: list[int] = []
    if dry_run:
        outcomes["would_replay"] = sum(1 for e in entries if e.replayed_at is None)
        outcomes["already_replayed"] = sum(1 for e in entries if e.replayed_at is not None)
    else:
        policy = get_policy()
        interval_s = 1.0 / rate if rate > 0 else 0.0
        with Progress(console=err_console, transient=True, disable=as_json) as progress:
            bar = progress.add_task("replaying", total=len(entries))
            for entry in entries:
                started = time.monotonic()
                outcome = replay_one(entry, policy=policy, actor="cli")
                outcomes[outcome] += 1
                if outcome == "replayed" and entry.id is not None:
                    replayed.append(entry.id)
                progress.advance(bar)
                if interval_s:
                    time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
    summary = {"matched": len(entries), **outcomes, "replayed_ids": replayed}
    if as_json:
        print_json(summary)
    else:
        parts = ", ".join(f"{k} {v}" for k, v in outcomes.items()) or "nothing to do"
        console.print(f"{len(entries)} matched: {parts}")


@group.command("purge")
def purge(
    before: str = typer.Option(..., help="Delete entries created before this time or age."),
    yes: bool = typer.Option(False, "--yes", help="Really delete."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete old dead letters. The audit record of every message stays."""
    if not yes:
        err_console.print("refusing to delete without --yes")
        raise typer.Exit(1)
    deleted = purge_entries(before=parse_time(before))
    if as_json:
        print_json({"deleted": deleted})
    else:
        console.print(f"deleted {deleted} dead letters")
