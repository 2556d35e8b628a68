"""Which state a message may move to from which: the lifecycle of SPEC 3 as a table.

Staying in the same state (a step that only records progress, a reconciler touch) is
always allowed for a state that is not terminal. Terminal states go nowhere; `dead` is
terminal for the pipeline but a replay may resume it.
"""

from __future__ import annotations

from app.db.models import MessageState as S

_RESUMABLE = frozenset({S.received, S.classified, S.drafted})

ALLOWED: dict[S, frozenset[S]] = {
    # received -> drafted: a reply that needs no model (the opt-out confirmation), still
    # checked by the guardrails before it goes
    S.received: frozenset({S.classified, S.drafted, S.escalated, S.no_reply, S.parked, S.dead}),
    # -> no_reply: withdrawn by a later message of the conversation (SPEC 11)
    S.classified: frozenset({S.drafted, S.escalated, S.no_reply, S.parked, S.dead}),
    # check: a block sends the message back to be redrafted a tier up
    S.drafted: frozenset(
        {S.classified, S.scheduled, S.escalated, S.sent, S.no_reply, S.parked, S.dead}
    ),
    S.scheduled: frozenset({S.drafted, S.sent, S.escalated, S.no_reply, S.dead}),
    S.parked: _RESUMABLE | {S.escalated, S.no_reply, S.dead},
    # a person approves (sent now or at the window), rejects, or the message dies
    S.escalated: frozenset({S.drafted, S.scheduled, S.rejected, S.no_reply, S.dead}),
    S.dead: _RESUMABLE,  # a replay resumes the message at the step that failed
    S.sent: frozenset(),
    S.no_reply: frozenset(),
    S.rejected: frozenset(),
}


class IllegalTransition(ValueError):
    """Raised when code asks for a move the lifecycle does not allow (a bug, not data)."""


def is_allowed(frm: str, to: str) -> bool:
    """Whether a message in state `frm` may move to state `to`."""
    source, target = S(frm), S(to)
    if source == target:
        return not source.is_terminal
    return target in ALLOWED[source]


def check_transition(frm: str, to: str) -> None:
    """Raises:
    IllegalTransition: `frm` -> `to` is not in the table."""
    if not is_allowed(frm, to):
        raise IllegalTransition(f"a message may not move from {frm} to {to}")
