"""The simulator's answer to a call: classification JSON, a reply draft, or `ok`, as text
or as the input of a forced tool call."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from app.simulator.draft import draft_reply
from app.simulator.followup import classify_answer
from app.simulator.realistic import realistic_classification
from app.simulator.rules import Respond
from app.simulator.wire import Call


@lru_cache(maxsize=4096)
def _answer(task: str, system: str, user: str) -> str:
    if task == "classify":
        return classify_answer(user)
    if task == "draft":
        return draft_reply(system, user)
    return "ok"


def answer(call: Call) -> str:
    """The deterministic answer for `call`: the same request always gets the same text."""
    return _answer(call.task, call.system, call.user)


def _object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def answer_for(call: Call, respond: Respond | None) -> tuple[str, dict[str, Any] | None]:
    """(text, tool input) for `call`: a rule's text, or the default answer (in the rule's
    style). A forced Anthropic tool call is answered with a `tool_use` block when the
    answer is a JSON object; other text (a rule's "banana") stays a text block, as a
    model that answers around the tool would."""
    if respond is not None and respond.text is not None:
        text = respond.text
    elif respond is not None and respond.style == "realistic" and call.task == "classify":
        key = f"{call.message_id}\n{call.user}"
        return realistic_classification(answer(call), key=key, structured=call.structured)
    else:
        text = answer(call)
    return text, _object(text) if call.structured == "tool" else None
