"""`keel guardrails check`: every verdict on one message and draft, as JSON (SPEC 6).

Reads `{"message": {...}, "draft": "...", "now": "ISO 8601"}` on stdin (the message as
`POST /v1/messages` takes it; `now` defaults to the current time). Exit 0 when nothing
blocks, 1 when something does, 2 when the input cannot be read.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.console import err_console, print_json
from app.guardrails import Verdict, blocked, check_draft, check_input, send_window_verdict
from app.pipeline.schemas import MessageIn
from app.policy import get_policy


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: MessageIn
    draft: str = Field(max_length=100_000)
    now: dt.datetime | None = None


def _shown(verdict: Verdict) -> dict[str, Any]:
    return {
        "check": verdict.check,
        "passed": verdict.passed,
        "reason": verdict.reason,
        "blocking": verdict.blocking,
        "detail": verdict.detail,
    }


def check() -> None:
    """Read a message and a draft on stdin; print the input, output and send-window verdicts."""
    try:
        data = CheckIn.model_validate(json.loads(sys.stdin.read()))
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        err_console.print(f"unreadable input: {first}")
        raise typer.Exit(2) from exc
    policy = get_policy()
    message = data.message
    now = data.now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    report = check_input(message.text)
    language = report.language or (message.contact.locale or "")[:2] or None
    output = check_draft(data.draft, policy=policy, channel=message.channel, language=language)
    window, next_open = send_window_verdict(
        now, contact_timezone=message.contact.timezone, policy=policy
    )
    stops = blocked([*report.verdicts, *output])
    print_json(
        {
            "blocked": bool(stops),
            "blocking": [f"{v.check}:{v.reason}" for v in stops],
            "language": language,
            "input": [_shown(v) for v in report.verdicts],
            "output": [_shown(v) for v in output],
            "send_window": {
                **_shown(window),
                "next_open": next_open.isoformat() if next_open else None,
            },
        }
    )
    if stops:
        raise typer.Exit(1)


group = typer.Typer(help="Guardrail checks.", no_args_is_help=True)
group.command("check")(check)
