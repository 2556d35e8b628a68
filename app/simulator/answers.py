"""The simulator's default answer to a call: classification JSON, a reply draft, or `ok`."""

from __future__ import annotations

from functools import lru_cache

from app.simulator.draft import draft_reply
from app.simulator.followup import classify_answer
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
