"""`keel trace ID`: the whole audit timeline of one message."""

from __future__ import annotations

import typer

from app.api.models import MessagePublic
from app.audit import timeline
from app.console import console, print_json
from app.db import session_scope
from app.db.models import Message
from app.reporting.trace import print_trace


def trace(
    message_id: str = typer.Argument(..., help="Message id (uuid)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show what one message received, what each model returned, and what was sent."""
    with session_scope() as session:
        message = session.get(Message, message_id)
        if message is None:
            console.print(f"no message {message_id}")
            raise typer.Exit(1)
        events = timeline(session, message_id)
    if as_json:
        # The same document as GET /v1/messages/{id}, by construction.
        print_json(MessagePublic.of(message, events).model_dump(mode="json"))
        return
    print_trace(console, message, events)
