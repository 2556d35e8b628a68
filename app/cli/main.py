"""The Typer app and the entry point that turns configuration errors into one line."""

from __future__ import annotations

import sys

import typer

from app.cli import (
    audit,
    conversation,
    db,
    demo,
    dlq,
    ingest,
    parked,
    providers,
    report,
    simulator,
    trace,
    train,
)
from app.cli import eval as eval_cli
from app.cli import guardrails as guardrails_cli
from app.cli import review as review_cli
from app.errors import ConfigError

cli = typer.Typer(
    name="keel",
    help="Keel: queues, guardrails, failover and audit for AI inboxes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli.add_typer(db.group, name="db")
cli.add_typer(audit.group, name="audit")
cli.add_typer(dlq.group, name="dlq")
cli.add_typer(parked.group, name="parked")
cli.command("providers")(providers.providers)
cli.command("demo")(demo.demo)
cli.command("simulator")(simulator.simulator)
cli.command("ingest")(ingest.ingest)
cli.command("trace")(trace.trace)
cli.command("report")(report.report)
cli.command("eval")(eval_cli.eval_)
cli.command("train")(train.train)
cli.add_typer(review_cli.group, name="review")
cli.add_typer(guardrails_cli.group, name="guardrails")
cli.add_typer(conversation.group, name="conversation")
cli.add_typer(conversation.contacts, name="contact")


def main() -> None:
    try:
        cli()
    except ConfigError as exc:
        print(f"keel: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
