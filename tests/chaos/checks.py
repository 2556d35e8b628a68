"""The invariants every fault test asserts (SPEC 3): nothing lost, one reply text per
message under one Idempotency-Key, and intact audit hash chains."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select

from app.audit import verify_chain
from app.db import session_scope
from app.db.models import AuditEvent, DeadLetter, Delivery, Message
from app.demo.receiver import ReceivedPost
from tests.chaos.stack import SETTLED_STATES, ChaosStack, describe_stuck


@dataclass
class Findings:
    """What the database and the receiver say after a run."""

    states: Counter[str]
    dead_reasons: Counter[str]
    actions: Counter[str]
    posts: dict[str, list[ReceivedPost]] = field(default_factory=dict)

    def accepted_posts(self, message_id: str) -> list[ReceivedPost]:
        return [p for p in self.posts.get(message_id, []) if 200 <= p.status < 300]


def check_invariants(stack: ChaosStack, accepted_ids: Sequence[str]) -> Findings:
    """Assert SPEC 3's invariants over every message the API accepted; return findings."""
    with session_scope() as session:
        messages = {m.id: m for m in session.exec(select(Message)).all()}
        deliveries = {d.message_id: d for d in session.exec(select(Delivery)).all()}
        dead = session.exec(select(DeadLetter)).all()
        events = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.message_id).is_not(None))
            .order_by(col(AuditEvent.message_id), col(AuditEvent.seq))
        ).all()

    # 1. Nothing is lost: every accepted message is in the database, settled.
    missing = set(accepted_ids) - set(messages)
    assert not missing, f"{len(missing)} accepted messages are not in the database"
    unsettled = {m.id: m.state for m in messages.values() if m.state not in SETTLED_STATES}
    assert not unsettled, (
        f"{len(unsettled)} messages never settled: {Counter(unsettled.values())}\n"
        + describe_stuck(stack)
    )

    # 2. One reply at most: one text per message, every attempt under its one key, signed.
    posts: dict[str, list[ReceivedPost]] = defaultdict(list)
    for post in list(stack.receiver.posts):
        posts[str(post.body.get("message_id"))].append(post)
    for message_id, attempts in posts.items():
        assert message_id in messages, f"a POST for an unknown message {message_id}"
        texts = {p.body.get("text") for p in attempts}
        assert len(texts) == 1, f"{message_id} got {len(texts)} different reply texts"
        keys = {p.idempotency_key for p in attempts}
        assert keys == {f"keel-{message_id}"}, (message_id, keys)
        assert all(p.signature_ok for p in attempts), message_id
        delivery = deliveries.get(message_id)
        assert delivery is not None and delivery.text == attempts[0].body.get("text")
    for message in messages.values():
        accepted = [p for p in posts.get(message.id, []) if 200 <= p.status < 300]
        if message.state == "sent":
            assert accepted, f"{message.id} is sent but the receiver never accepted its reply"
        else:
            assert not accepted, f"{message.id} is {message.state} but its reply was accepted"

    # 5. Every action audited, in an unbroken hash chain per message.
    by_message: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in events:
        by_message[str(event.message_id)].append(event)
    for message_id in messages:
        timeline = by_message.get(message_id, [])
        assert timeline and timeline[0].action == "received", message_id
        assert verify_chain(timeline) is None, f"audit chain of {message_id} is broken"

    return Findings(
        states=Counter(m.state for m in messages.values()),
        dead_reasons=Counter(d.reason for d in dead if d.replayed_at is None),
        actions=Counter(e.action for e in events),
        posts=dict(posts),
    )


def check_every_model_call_audited(stack: ChaosStack, findings: Findings) -> None:
    """Where no worker died mid-call, every request a provider saw (probes aside) is a
    `model_call` event: failed attempts included (SPEC 9)."""
    by_task: dict[str, int] = stack.sim_stats()["by_task"]
    seen = sum(n for task, n in by_task.items() if task != "probe")
    assert findings.actions["model_call"] == seen, (findings.actions["model_call"], by_task)
