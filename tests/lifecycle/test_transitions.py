"""The table of allowed state changes, checked without a database."""

from __future__ import annotations

import pytest

from app.db.models import TERMINAL_STATES, MessageState
from app.lifecycle import (
    ALLOWED,
    RESUME_STATE,
    IllegalTransition,
    Step,
    check_transition,
    is_allowed,
    resume_state,
)

S = MessageState


def test_every_state_has_a_row_in_the_table() -> None:
    assert set(ALLOWED) == set(MessageState)


def test_terminal_states_go_nowhere_but_a_dead_message_may_be_replayed() -> None:
    for state in TERMINAL_STATES - {S.dead}:
        assert ALLOWED[state] == frozenset()
        assert not is_allowed(state, state)
    assert ALLOWED[S.dead] == {S.received, S.classified, S.drafted}


@pytest.mark.parametrize("state", [s for s in MessageState if not s.is_terminal])
def test_a_working_state_may_stay_where_it_is(state: MessageState) -> None:
    assert is_allowed(state, state)


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (S.received, S.classified),
        (S.received, S.escalated),
        (S.classified, S.drafted),
        (S.drafted, S.classified),  # a blocked draft goes back for a redraft
        (S.drafted, S.scheduled),
        (S.drafted, S.sent),
        (S.scheduled, S.sent),
        (S.parked, S.classified),
        (S.escalated, S.scheduled),
        (S.escalated, S.rejected),
        (S.dead, S.drafted),
    ],
)
def test_the_lifecycle_of_spec_3_is_allowed(frm: MessageState, to: MessageState) -> None:
    check_transition(frm, to)


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (S.sent, S.drafted),  # one reply at most: a sent message never goes back
        (S.no_reply, S.received),
        (S.rejected, S.scheduled),
        (S.received, S.sent),  # nothing is sent without a draft and its checks
        (S.classified, S.sent),
        (S.classified, S.rejected),  # only a person rejects, and only an escalation
        (S.parked, S.sent),
    ],
)
def test_a_move_that_skips_the_checks_is_refused(frm: MessageState, to: MessageState) -> None:
    assert not is_allowed(frm, to)
    with pytest.raises(IllegalTransition):
        check_transition(frm, to)


def test_only_states_that_wait_for_a_person_or_a_send_can_reach_sent() -> None:
    reach_sent = {frm for frm, targets in ALLOWED.items() if S.sent in targets}
    assert reach_sent == {S.drafted, S.scheduled}


def test_every_step_resumes_in_a_state_a_replay_and_a_drain_may_reach() -> None:
    assert set(RESUME_STATE) == set(Step)
    for step, state in RESUME_STATE.items():
        assert is_allowed(S.dead, state) and is_allowed(S.parked, state), step
    assert resume_state("draft") == S.classified
    assert resume_state(None) == S.received
    assert resume_state("no-such-step") == S.received
