"""`move` changes a message only at the version and state its caller read, on Postgres
and on SQLite alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.db.migrate import upgrade
from app.db.models import Message, MessageState
from app.lifecycle import IllegalTransition, move


@pytest.fixture(params=["postgres", "sqlite"])
def engine(request: pytest.FixtureRequest, pg_url: str, sqlite_url: str) -> Iterator[sa.Engine]:
    url = pg_url if request.param == "postgres" else sqlite_url
    upgrade(url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def _stored(engine: sa.Engine, **values: object) -> Message:
    message = Message(external_id="wa-1", channel="whatsapp", contact_id="c-1", text="hola")
    for name, value in values.items():
        setattr(message, name, value)
    with Session(engine, expire_on_commit=False) as session:
        session.add(message)
        session.commit()
        session.expunge(message)
    return message


def _read(engine: sa.Engine, message_id: str) -> Message:
    with Session(engine) as session:
        found = session.get(Message, message_id)
        assert found is not None
        session.expunge(found)
        return found


def test_a_move_at_the_version_read_takes_the_version_up(engine: sa.Engine) -> None:
    message = _stored(engine)
    with Session(engine) as session:
        assert move(session, message, to=MessageState.classified, intent="pricing")
        session.commit()
    now = _read(engine, message.id)
    assert (now.state, now.version, now.intent) == ("classified", 1, "pricing")
    assert message.version == 0  # the caller's copy is left as it was read


def test_a_second_writer_with_the_same_version_changes_nothing(engine: sa.Engine) -> None:
    message = _stored(engine)
    first, second = _read(engine, message.id), _read(engine, message.id)
    with Session(engine) as session:
        assert move(session, first, to=MessageState.classified, intent="pricing")
        session.commit()
    with Session(engine) as session:
        assert not move(session, second, to=MessageState.escalated, escalation_reason="x")
        session.commit()
    now = _read(engine, message.id)
    assert (now.state, now.version, now.escalation_reason) == ("classified", 1, None)


def test_an_expected_state_that_no_longer_holds_changes_nothing(engine: sa.Engine) -> None:
    message = _stored(engine, state=MessageState.escalated)
    with Session(engine) as session:
        # a replay expects a dead message; this one waits for a person
        assert not move(session, message, expect=MessageState.dead, to=MessageState.drafted)
        session.commit()
    assert _read(engine, message.id).state == "escalated"


def test_a_move_the_lifecycle_forbids_is_refused_before_any_write(engine: sa.Engine) -> None:
    message = _stored(engine, state=MessageState.sent)
    with Session(engine) as session, pytest.raises(IllegalTransition):
        move(session, message, to=MessageState.drafted)
    assert _read(engine, message.id).version == 0


def test_a_move_that_stays_put_still_takes_the_version_up(engine: sa.Engine) -> None:
    message = _stored(engine, state=MessageState.drafted)
    with Session(engine) as session:
        assert move(session, message, step_attempts=3)
        session.commit()
    now = _read(engine, message.id)
    assert (now.state, now.version, now.step_attempts) == ("drafted", 1, 3)


def test_a_rolled_back_move_leaves_the_row_as_it_was(engine: sa.Engine) -> None:
    message = _stored(engine)
    with Session(engine) as session:
        assert move(session, message, to=MessageState.dead)
        session.rollback()
    assert _read(engine, message.id).state == "received"
