"""`keel ingest FILE.jsonl`: accept messages from a file and enqueue them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import Progress

from app.broker import enqueue_many
from app.console import console, err_console, print_json
from app.db import session_scope
from app.pipeline.intake import accept_message
from app.pipeline.schemas import MessageIn
from app.policy import get_policy


def ingest(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="JSON lines, one message each."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Accept every valid line as the API would; refused lines are listed with why."""
    policy = get_policy()
    lines = file.read_text(encoding="utf-8").splitlines()
    accepted = duplicates = 0
    refused: list[dict[str, object]] = []
    with Progress(console=err_console, transient=True, disable=as_json) as progress:
        bar = progress.add_task("ingesting", total=len(lines))
        for number, line in enumerate(lines, start=1):
            progress.advance(bar)
            if not line.strip():
                continue
            try:
                message_in = MessageIn.model_validate(json.loads(line))
            except (ValueError, ValidationError) as exc:
                refused.append({"line": number, "error": str(exc).splitlines()[0][:200]})
                continue
            with session_scope() as session:
                message, duplicate = accept_message(
                    session=session, message_in=message_in, actor="cli"
                )
            if duplicate:
                duplicates += 1
            else:
                enqueue_many([("ingest", message.id, None)], policy=policy)
                accepted += 1
    summary = {"accepted": accepted, "duplicates": duplicates, "refused": refused}
    if as_json:
        print_json(summary)
    else:
        console.print(f"accepted {accepted}, duplicates {duplicates}, refused {len(refused)}")
        for item in refused:
            err_console.print(f"  line {item['line']}: {item['error']}")
    if refused:
        raise typer.Exit(1)
