"""`keel review list|approve|reject`: the human escalation queue, on the server.

These commands open the database themselves: they are the operator's, run where the
processes run (`heroku run keel review ...`). The decision is audited `via: cli` with
`--reviewer` or the OS user, and only here may `--override` force a text past the
guardrails (audited with what it overrode). Staff decide on the review page (`/review`),
through `/v1/reviews`, or with these commands and `--url` (`review_remote.py`), with a
reviewer key: the decision is signed with the key's name."""

from __future__ import annotations

import getpass

import typer
from rich.table import Table

from app.cli.review_remote import Remote
from app.console import console, err_console, print_json
from app.db import session_scope
from app.policy import get_policy
from app.review import (
    EditBlocked,
    NothingToSend,
    ReviewConflict,
    ReviewNotFound,
    approve,
    list_reviews,
    reject,
)

group = typer.Typer(help="The human review queue.", no_args_is_help=True)
_STATUSES = ("pending", "approved", "rejected", "withdrawn", "all")
_URL_HELP = (
    "A running Keel's base URL: use its /v1/reviews with the reviewer key in "
    "KEEL_REVIEWER_KEY instead of the database."
)


def _who(reviewer: str | None) -> str:
    if reviewer:
        return reviewer
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


def _server_only(*, override: bool, reviewer: str | None) -> None:
    """Over --url the key names the reviewer and nothing overrides the guardrails."""
    if override or reviewer:
        err_console.print(
            "--override and --reviewer work only on the server (without --url): over HTTP "
            "the reviewer key names who decides, and nothing overrides the guardrails"
        )
        raise typer.Exit(2)


def _refuse(exc: Exception) -> typer.Exit:
    err_console.print(f"refused: {exc}")
    if isinstance(exc, EditBlocked):
        for v in exc.verdicts:
            err_console.print(f"  {v.check}: {v.reason}")
    return typer.Exit(1)


@group.command("list")
def list_(
    status: str = typer.Option("pending", help="pending, approved, rejected or all."),
    limit: int = typer.Option(100, help="At most this many."),
    url: str | None = typer.Option(None, "--url", envvar="KEEL_URL", help=_URL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Reviews waiting for a person (or with --status), oldest first."""
    if status not in _STATUSES:
        err_console.print(f"--status must be one of {', '.join(_STATUSES)}")
        raise typer.Exit(2)
    if url:
        reviews = Remote(url).list(status=status, limit=limit)
    else:
        with session_scope() as session:
            reviews = list_reviews(
                session=session,
                status=None if status == "all" else status,  # type: ignore[arg-type]
                limit=limit,
            )
    if as_json:
        print_json([r.model_dump(mode="json") for r in reviews])
        return
    table = Table(title=f"{len(reviews)} {status}")
    for header in ("id", "message", "channel", "lang", "reason", "status", "draft"):
        table.add_column(header)
    for r in reviews:
        draft = (r.draft_text or "")[:60].replace("\n", " ")
        table.add_row(
            str(r.id), r.message_id, r.channel, r.language or "", r.reason, r.status, draft
        )
    console.print(table)


@group.command("approve")
def approve_(
    review_id: int = typer.Argument(..., help="Review id."),
    text: str | None = typer.Option(None, "--text", help="Send this text instead of the draft."),
    override: bool = typer.Option(
        False, "--override", help="Send even if the text fails the guardrails (audited)."
    ),
    reviewer: str | None = typer.Option(
        None, help="Who decides, for the audit (default: the OS user)."
    ),
    url: str | None = typer.Option(None, "--url", envvar="KEEL_URL", help=_URL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Approve a review: its draft (or --text) is checked, then sent or scheduled."""
    if url:
        _server_only(override=override, reviewer=reviewer)
        decision = Remote(url).approve(review_id, text=text)
    else:
        try:
            decision = approve(
                review_id=review_id,
                policy=get_policy(),
                text=text,
                override=override,
                reviewer=_who(reviewer),
                via="cli",
            )
        except (ReviewNotFound, ReviewConflict, EditBlocked, NothingToSend) as exc:
            raise _refuse(exc) from exc
    if as_json:
        print_json(decision.model_dump(mode="json"))
        return
    when = f", scheduled for {decision.send_at.isoformat()}" if decision.send_at else ""
    console.print(f"review {review_id} approved: message {decision.review.message_id}{when}")


@group.command("reject")
def reject_(
    review_id: int = typer.Argument(..., help="Review id."),
    reason: str | None = typer.Option(None, help="Why (kept in the audit record)."),
    reviewer: str | None = typer.Option(None, help="Who decides (default: the OS user)."),
    url: str | None = typer.Option(None, "--url", envvar="KEEL_URL", help=_URL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Reject a review: the message ends as `rejected` and nothing is sent."""
    if url:
        _server_only(override=False, reviewer=reviewer)
        decision = Remote(url).reject(review_id, reason=reason)
    else:
        try:
            decision = reject(
                review_id=review_id, reason=reason, reviewer=_who(reviewer), via="cli"
            )
        except (ReviewNotFound, ReviewConflict) as exc:
            raise _refuse(exc) from exc
    if as_json:
        print_json(decision.model_dump(mode="json"))
        return
    console.print(f"review {review_id} rejected: message {decision.review.message_id}")
