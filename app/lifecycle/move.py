"""`move`: the one guarded way to change a message's state.

Every writer (a step's commit, parking, draining, the reconciler, dead-lettering, a
replay, a review) moves a message with one UPDATE that matches its id, the version the
writer read and the states it expects; the version goes up by one. Zero rows matched
means someone else moved the message first, and the writer drops its change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.db.models import Message, MessageState, utcnow
from app.lifecycle.transitions import check_transition

MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


def guarded_update(*, expect: Iterable[str] = ()) -> sa.Update:
    """`UPDATE messages WHERE id = :m_id AND version = :m_version [AND state IN expect]`:
    the guard every move shares (the hot path's one-statement commit builds on it)."""
    update = sa.update(MESSAGES).where(
        MESSAGES.c.id == sa.bindparam("m_id"), MESSAGES.c.version == sa.bindparam("m_version")
    )
    states = sorted({str(s) for s in expect})
    if states:
        update = update.where(MESSAGES.c.state.in_(states))
    return update


def move(
    session: Session,
    message: Message,
    *,
    expect: MessageState | Iterable[MessageState] | None = None,
    to: MessageState | None = None,
    **values: Any,
) -> bool:
    """Move `message` from one of the `expect`ed states (default: the state it was read
    in) to `to` (default: stay) with `values`, if it is still at `message.version`; in
    the caller's transaction. `message` itself is left as it was read (a caller whose
    transaction fails may try again with it).

    Returns False, changing nothing, when the message moved on meanwhile.

    Raises:
        IllegalTransition: a move the lifecycle table does not allow.
    """
    expected = _states(expect, default=MessageState(message.state))
    for state in expected:
        check_transition(state, to if to is not None else state)
    row = dict(values)
    if to is not None:
        row["state"] = to
    row["version"] = message.version + 1
    row.setdefault("updated_at", utcnow())
    result = session.execute(
        guarded_update(expect=expected).values(**row),
        {"m_id": message.id, "m_version": message.version},
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _states(
    expect: MessageState | Iterable[MessageState] | None, *, default: MessageState
) -> tuple[MessageState, ...]:
    if expect is None:
        return (default,)
    if isinstance(expect, str):
        return (MessageState(expect),)
    return tuple(MessageState(s) for s in expect)
