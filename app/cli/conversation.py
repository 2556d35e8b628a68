"""`keel conversation show|handoff|release` and `keel contact opt-in` (SPEC 11)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlmodel import Session

from app.console import console, err_console, print_json
from app.conversations.manage import (
    ConversationNotFound,
    ConversationPublic,
    get_conversation,
    hand_off_by_id,
    opt_in,
    release,
)
from app.db import session_scope
from app.policy import get_policy
from app.reporting.conversation import print_conversation

group = typer.Typer(help="A conversation: its turns, handing it to a person and back.")
contacts = typer.Typer(help="Contacts: opting back in after an opt-out.")
CHANNELS = ("whatsapp", "email", "sms", "web")


def _channel(value: str) -> str:
    if value not in CHANNELS:
        raise typer.BadParameter(f"one of {', '.join(CHANNELS)}")
    return value


@contextmanager
def _session_or_exit() -> Iterator[Session]:
    """A transaction; an unknown conversation is one line on stderr and exit code 1."""
    try:
        with session_scope() as session:
            yield session
    except ConversationNotFound as exc:
        err_console.print(str(exc))
        raise typer.Exit(1) from exc


def _show(conversation: ConversationPublic, *, as_json: bool) -> None:
    if as_json:
        print_json(conversation.model_dump(mode="json"))
        return
    print_conversation(console, conversation)


@group.command("show")
def show(
    channel: str = typer.Argument(..., callback=_channel, help="whatsapp, email, sms or web"),
    conversation_id: str = typer.Argument(..., help="The conversation id (or the contact id)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The conversation's status and every turn, oldest first."""
    with _session_or_exit() as session:
        found = get_conversation(session=session, channel=channel, conversation_id=conversation_id)
    _show(found, as_json=as_json)


@group.command("handoff")
def handoff(
    channel: str = typer.Argument(..., callback=_channel),
    conversation_id: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A person takes over: new messages escalate (reason `handoff`) until released."""
    with _session_or_exit() as session:
        found = hand_off_by_id(
            session=session,
            channel=channel,
            conversation_id=conversation_id,
            policy=get_policy(),
            actor="cli",
        )
    _show(found, as_json=as_json)


@group.command("release")
def release_(
    channel: str = typer.Argument(..., callback=_channel),
    conversation_id: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Keel answers on its own again."""
    with _session_or_exit() as session:
        found = release(
            session=session, channel=channel, conversation_id=conversation_id, actor="cli"
        )
    _show(found, as_json=as_json)


@contacts.command("opt-in")
def opt_in_(
    channel: str = typer.Argument(..., callback=_channel),
    contact_id: str = typer.Argument(...),
) -> None:
    """The contact may receive replies on the channel again (audited)."""
    with session_scope() as session:
        known = opt_in(session=session, channel=channel, contact_id=contact_id, actor="cli")
    if not known:
        err_console.print(f"no contact {contact_id} on {channel}")
        raise typer.Exit(1)
    console.print(f"{channel}/{contact_id}: opted in")
