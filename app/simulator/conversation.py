"""Reading Keel's user turn the way a model would: the current customer message and the
conversation's earlier turns, each fenced as data (see `app.prompts.build`).

Keel neutralises every closing tag inside customer text, so the first real closing tag
ends its block; an opening tag inside a turn's text is just text. Both readers accept a
turn without any tags (a hand-written probe) and a history block that is cut short.
"""

from __future__ import annotations

import re
from typing import Literal

Role = Literal["customer", "keel", "human"]

CUSTOMER_OPEN = "<customer_message>"
CUSTOMER_CLOSE = "</customer_message>"
HISTORY_OPEN = "<conversation_history>"
HISTORY_CLOSE = "</conversation_history>"
TURN_CLOSE = "</turn>"
NAME_OPEN = "<customer_name>"
NAME_CLOSE = "</customer_name>"
_TURN_OPEN = re.compile(r'<turn role="(customer|keel|human)">')
_ROLES: dict[str, Role] = {"customer": "customer", "keel": "keel", "human": "human"}


def _after_name(user: str) -> int:
    """Where the user turn goes on after a leading customer_name block (0 without one)."""
    lead = len(user) - len(user.lstrip())
    if not user.startswith(NAME_OPEN, lead):
        return 0
    end = user.find(NAME_CLOSE, lead)
    return end + len(NAME_CLOSE) if end >= 0 else 0


def customer_name(user: str) -> str:
    """The name Keel gave to greet the customer by, or "" when it gave none."""
    lead = len(user) - len(user.lstrip())
    end = _after_name(user)
    if not end:
        return ""
    return user[lead + len(NAME_OPEN) : end - len(NAME_CLOSE)].strip()


def _history_span(user: str) -> tuple[int, int, int] | None:
    """(start of the turns, end of the turns, end of the block) when `user` opens with a
    history block (after the name, if any); a block with no closing tag ends at the
    current message."""
    skip = _after_name(user)
    lead = skip + len(user[skip:]) - len(user[skip:].lstrip())
    if not user.startswith(HISTORY_OPEN, lead):
        return None
    start = lead + len(HISTORY_OPEN)
    end = user.find(HISTORY_CLOSE, start)
    if end >= 0:
        return start, end, end + len(HISTORY_CLOSE)
    end = user.find(CUSTOMER_OPEN, start)
    end = end if end >= 0 else len(user)
    return start, end, end


def customer_text(user: str) -> str:
    """The current customer message fenced in Keel's tags, or the whole turn when there
    are none."""
    span = _history_span(user)
    after = span[2] if span is not None else _after_name(user)
    start = user.find(CUSTOMER_OPEN, after)
    if start < 0:
        return user[after:].strip()
    start += len(CUSTOMER_OPEN)
    end = user.find(CUSTOMER_CLOSE, start)
    return user[start : end if end >= 0 else len(user)].strip()


def history_turns(user: str) -> list[tuple[Role, str]]:
    """The earlier turns of the conversation, oldest first, as (role, text); empty when
    the user turn has no history block."""
    span = _history_span(user)
    if span is None:
        return []
    block = user[span[0] : span[1]]
    turns: list[tuple[Role, str]] = []
    position = 0
    while (opening := _TURN_OPEN.search(block, position)) is not None:
        end = block.find(TURN_CLOSE, opening.end())
        end = end if end >= 0 else len(block)
        turns.append((_ROLES[opening.group(1)], block[opening.end() : end].strip()))
        position = end + len(TURN_CLOSE)
    return turns
