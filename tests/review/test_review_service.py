"""The review service: the send window on approval, and a message that moved on."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.db import session_scope
from app.db.models import Message
from app.pipeline.runner import execute
from app.policy import load_policy
from app.review import ReviewConflict, approve
from tests.review.conftest import Escalate

GOOD = "¡Hola! El curso intensivo de inglés cuesta 450 €."


def test_a_reply_approved_at_night_is_scheduled_for_the_contact_morning(
    escalated: Escalate,
) -> None:
    mid, rid = escalated(draft=GOOD, timezone="America/Sao_Paulo")
    night = dt.datetime(2026, 11, 27, 5, 0, tzinfo=dt.UTC)  # 02:00 in Sao Paulo

    decision = approve(review_id=rid, policy=load_policy(), reviewer="ana", via="api", now=night)

    morning = dt.datetime(2026, 11, 27, 11, 0, tzinfo=dt.UTC)  # 08:00 in Sao Paulo
    assert decision.state == "scheduled" and decision.send_at == morning
    assert execute("deliver", mid, now=night).kind == "waiting"


def test_a_message_that_moved_on_meanwhile_makes_the_approval_a_conflict(
    escalated: Escalate,
) -> None:
    mid, rid = escalated(draft=GOOD)
    with session_scope() as session:
        session.execute(
            sa.update(Message).where(Message.id == mid).values(state="dead")  # type: ignore[arg-type]
        )

    with pytest.raises(ReviewConflict):
        approve(review_id=rid, policy=load_policy(), reviewer="ana", via="api")
