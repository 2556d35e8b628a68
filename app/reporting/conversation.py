"""One conversation as a header and a table of its turns (`keel conversation show`, the
demo's closing conversation)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from app.conversations.manage import ConversationPublic


def print_conversation(console: Console, conversation: ConversationPublic) -> None:
    """A header line with the status, then one row per turn, oldest first."""
    console.print(
        f"[bold]{conversation.channel}/{conversation.conversation_id}[/] "
        f"contact={conversation.contact_id} status=[bold]{conversation.status}[/] "
        f"last customer message {conversation.last_customer_at:%Y-%m-%d %H:%M} UTC"
        + (
            f", handed off until {conversation.handoff_until:%Y-%m-%d %H:%M} UTC"
            if conversation.status == "handoff" and conversation.handoff_until
            else ""
        )
    )
    table = Table(show_lines=False)
    for header in ("at", "role", "state", "text", "message"):
        table.add_column(header)
    for turn in conversation.turns:
        table.add_row(
            f"{turn.at:%m-%d %H:%M:%S}", turn.role, turn.state, turn.text, turn.message_id[:8]
        )
    console.print(table)
