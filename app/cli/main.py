"""The Typer app and the entry point that turns configuration errors, and a database
that does not answer or lacks Keel's schema, into one line instead of a traceback."""

from __future__ import annotations

import sys

import sqlalchemy as sa
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


# Postgres SQLSTATEs of a schema Keel's migrations have not made (yet): undefined table,
# undefined column (an older schema). SQLite says it in words.
_MISSING_SCHEMA_SQLSTATES = frozenset({"42P01", "42703"})
_MISSING_SCHEMA_SQLITE = ("no such table", "no such column")
# Connection exceptions, and the server shutting down or not yet accepting connections.
_UNREACHABLE_SQLSTATE_PREFIXES = ("08", "57P")


def _first_line(exc: sa.exc.DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0].strip()[:200] if lines else type(exc.orig).__name__


def database_problem(exc: sa.exc.DBAPIError) -> str | None:
    """One line for a database without Keel's schema, or one that does not answer (or
    refuses us), saying what to run; None for any other error, whose traceback helps."""
    reason = _first_line(exc)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _MISSING_SCHEMA_SQLSTATES or reason.lower().startswith(_MISSING_SCHEMA_SQLITE):
        return (
            f"keel: the database has no Keel schema or an older one ({reason}); "
            "run `keel db upgrade`"
        )
    unreachable = (
        exc.statement is None  # failed while connecting
        or exc.connection_invalidated  # the connection dropped
        or (sqlstate or "").startswith(_UNREACHABLE_SQLSTATE_PREFIXES)
    )
    if isinstance(exc, sa.exc.OperationalError) and unreachable:
        return (
            f"keel: the database does not answer ({reason}); check DATABASE_URL and that the "
            "server is running, and run `keel db upgrade` on a new database"
        )
    return None


def main() -> None:
    try:
        cli()
    except ConfigError as exc:
        print(f"keel: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        line = database_problem(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        sys.exit(1)
