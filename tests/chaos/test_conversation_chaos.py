"""Conversations under faults (issue 12's "Done when"): bursts in flight while workers are
SIGKILLed and Redis restarts empty. Every conversation settles, replies leave in message
order, no message gets two reply texts, and a burst gets one reply at most.

Sixty conversations each send a burst of three fragments (0.2-1 s apart, the quiet period
is 2 s), then, once half of them have their reply, one follow-up each: a second turn for
the answered half, a newer message for the rest. The workers are SIGKILLed twice while
the bursts come in and once more at the end, and Redis comes back empty once, right
after the follow-ups. Nothing is asserted about timing: every wait is for a condition,
with a generous deadline.
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

import app.demo
from app.db import session_scope
from app.db.models import Message
from app.state import get_redis, keys
from tests.chaos.checks import Findings, check_invariants
from tests.chaos.stack import UNSETTLED_STATES, ChaosStack
from tests.helpers import API_KEY

CONVERSATIONS = 60
FRAGMENT_GAP_S = (0.2, 1.0)
COALESCE_S = 2.0
# Fragments are taken for one burst only when Keel saw them arrive this much closer than
# the quiet period: near the bound, which side of it a fragment fell on is a race that
# either way keeps one reply per burst, and no test should depend on it.
BURST_MARGIN_S = 0.5
START_SPREAD_S = 6.0  # the conversations start over this many seconds
KILLS = 3
IN_FLIGHT_DEADLINE_S = 90
PROGRESS_DEADLINE_S = 90
ANSWERED_DEADLINE_S = 180
# Redis lost its queues: the reconciler (stalled_after_s 8, every 15 s) brings them back.
SETTLE_TIMEOUT_S = 300
FOLLOW_UPS = {"es": "¿y en reales?", "pt": "e em dólares?", "en": "and in euros?"}
SEED = 12


def burst_threads() -> list[dict[str, Any]]:
    """The demo's burst threads: fragments that make one answerable question together."""
    path = Path(app.demo.__file__).parent / "data" / "threads.jsonl"
    threads = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    return [thread for thread in threads if thread["kind"] == "burst"]


def conversation_scripts() -> list[list[tuple[float, dict[str, Any]]]]:
    """Per conversation, (seconds to wait before posting, message) for its burst; the
    same every run (seeded)."""
    rng = random.Random(SEED)
    templates = burst_threads()
    scripts = []
    for n in range(CONVERSATIONS):
        template = templates[n % len(templates)]
        contact = {**template["contact"], "id": f"c-chaos-{n}"}
        script = []
        for i, fragment in enumerate(template["messages"]):
            wait = n * START_SPREAD_S / CONVERSATIONS if i == 0 else rng.uniform(*FRAGMENT_GAP_S)
            message = {
                "external_id": f"chaos-{n}-{i + 1}",
                "channel": template["channel"],
                "contact": contact,
                "conversation_id": f"conv-chaos-{n}",
                "text": fragment["text"],
            }
            script.append((wait, message))
        scripts.append(script)
    return scripts


def follow_up(script: list[tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    """The conversation's next message, asking for the price in another currency."""
    last = script[-1][1]
    locale = last["contact"]["locale"]
    return {**last, "external_id": last["external_id"] + "-follow-up", "text": FOLLOW_UPS[locale]}


class Poster:
    """Posts each conversation's burst from a thread of its own, one message at a time;
    collects the accepted ids."""

    def __init__(self, api_url: str, stack: ChaosStack) -> None:
        self.api_url = api_url
        self.stack = stack
        self.ids: list[str] = []
        self._lock = threading.Lock()

    def play(self, script: list[tuple[float, dict[str, Any]]]) -> None:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=60) as client:
            for wait, message in script:
                time.sleep(wait)
                response = client.post("/v1/messages", json=message)
                # (the API's traceback in the failure itself: a teardown's log dump is cut)
                assert response.status_code == 202, (
                    response.text + "\n" + self.stack.logs_with_tracebacks()[-4000:]
                )
                with self._lock:
                    self.ids.append(response.json()["id"])


def why_idle(stack: ChaosStack) -> str:
    """What the database, the queues and the processes say when no work is moving."""
    unacked = get_redis().hlen(f"{keys().namespace}:unacked")
    alive = {name: proc.poll() is None for name, proc in stack.group.children}
    lines = [f"states={dict(stack.states())}", f"queues={stack.queue_lengths()}"]
    lines += [f"unacked={unacked}", f"alive={alive}"]
    for log in sorted(stack.workdir.glob("*.log")):
        if log.name.startswith(("worker", "beat")):
            lines.append(f"--- {log.name} ---\n{log.read_text(errors='replace')[-2000:]}")
    return "\n".join(lines)


@dataclass
class Workers:
    """The scenario's one worker: SIGKILLed on purpose, and started again when it exits
    on its own, as a platform's process manager does (Heroku restarts a crashed dyno).
    kombu 5.7.0 can exit a worker that loses Redis with tasks unacked ("Unrecoverable
    error: AttributeError(... 'hostname')" while restoring them); each such exit is
    recorded and printed in the scenario's summary."""

    stack: ChaosStack
    current: subprocess.Popen[bytes]
    caught: set[tuple[str, str]] = field(default_factory=set)
    caught_per_kill: list[int] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)

    def revive(self) -> None:
        code = self.current.poll()
        if code is not None:
            self.exit_codes.append(code)
            self.current = self.stack.start_worker(concurrency=4)

    def wait_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """`stack.wait_until`, restarting a worker that exited meanwhile."""
        return self.stack.wait_until(lambda: (self.revive(), condition())[1], timeout_s)

    def work_in_flight(self) -> bool:
        """A task started and not finished that no earlier kill already caught."""
        return bool(set(self.stack.crash_counters()) - self.caught)

    def all_settled(self) -> bool:
        counts = self.stack.states()
        return not any(counts[state] for state in UNSETTLED_STATES)

    def kill_with_work_in_flight(self) -> None:
        """SIGKILL the whole worker once it holds work, start a new one, and wait until
        messages move again."""
        stack = self.stack
        in_flight = self.wait_until(self.work_in_flight, IN_FLIGHT_DEADLINE_S)
        assert in_flight, "no work in flight to kill:\n" + why_idle(stack)
        stack.kill_worker(self.current)
        held = set(stack.crash_counters()) - self.caught
        self.caught |= held
        self.caught_per_kill.append(len(held))
        self.current = stack.start_worker(concurrency=4)
        settled = stack.count_settled()
        moving = self.wait_until(lambda: stack.count_settled() > settled, PROGRESS_DEADLINE_S)
        assert moving, "nothing settled after the kill:\n" + why_idle(stack)


def by_conversation(messages: list[Message]) -> dict[str, list[Message]]:
    """Each conversation's messages in the order Keel received them."""
    found: dict[str, list[Message]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.created_at, m.id)):
        found[str(message.conversation_ref)].append(message)
    return found


def bursts(messages: list[Message]) -> list[list[Message]]:
    """A conversation's messages split wherever Keel may not have taken two for one burst."""
    groups: list[list[Message]] = []
    for message in messages:
        gap = (message.created_at - groups[-1][-1].created_at).total_seconds() if groups else None
        if gap is None or gap >= COALESCE_S - BURST_MARGIN_S:
            groups.append([])
        groups[-1].append(message)
    return groups


def answered_conversations() -> int:
    """Conversations with a reply sent."""
    with session_scope() as session:
        refs = session.exec(
            select(Message.conversation_ref).where(Message.state == "sent").distinct()
        ).all()
    return len(refs)


def describe(ordered: list[Message], first_post: dict[str, int]) -> str:
    """A conversation's messages for a failure's message: when each arrived (seconds
    after the first), its state and reason, what answered it, whether it was delivered."""
    start = ordered[0].created_at
    return "\n".join(
        f"{m.id[:8]} +{(m.created_at - start).total_seconds():.2f}s {m.state}/{m.reason} "
        f"answered_by={str(m.answered_by)[:8]} delivered={m.id in first_post}"
        for m in ordered
    )


def check_conversations(stack: ChaosStack, findings: Findings) -> tuple[Counter[str], int]:
    """SPEC 11 over every conversation: replies delivered in message order, a burst answered
    once at most and by its last message, the earlier fragments pointing at it; a withdrawn
    reply never delivered. Returns the reasons messages ended without a reply, and how
    many conversations got two replies."""
    with session_scope() as session:
        rows = session.exec(select(Message).where(col(Message.conversation_ref).is_not(None)))
        messages = list(rows.all())
        for message in messages:
            session.expunge(message)
    first_post: dict[str, int] = {}
    for index, post in enumerate(stack.receiver.posts):
        if 200 <= post.status < 300:
            first_post.setdefault(str(post.body["message_id"]), index)
    conversations = by_conversation(messages)
    assert len(conversations) == CONVERSATIONS
    twice = 0
    for ref, ordered in conversations.items():
        story = f"conversation {ref}:\n" + describe(ordered, first_post)
        delivered = [m.id for m in ordered if m.id in first_post]
        twice += len(delivered) >= 2
        assert delivered == sorted(delivered, key=first_post.__getitem__), story
        final = {m.id for m in ordered if m.state in ("sent", "escalated")}
        for burst in bursts(ordered):
            carriers = [m.id for m in burst if m.id in first_post]
            assert carriers in ([], [burst[-1].id]), story
            if not carriers:
                continue
            later = {m.id for m in ordered if m.created_at >= burst[-1].created_at}
            for earlier in burst[:-1]:
                assert (earlier.state, earlier.reason) == ("no_reply", "coalesced"), story
                # answered by the burst's reply or, for a fragment whose task a kill held
                # past that reply (whose draft had it as an earlier turn), by a later one
                assert earlier.answered_by in final & later, story
        # its last message carries the turn: it is answered, or waits for a person
        assert ordered[-1].state in ("sent", "escalated"), story
    withdrawn = [m for m in messages if m.reason in ("coalesced", "superseded")]
    assert not [m.id for m in withdrawn if findings.accepted_posts(m.id)]
    return Counter(m.reason for m in messages if m.reason), twice


@pytest.mark.slow
def test_bursts_in_flight_through_worker_kills_and_an_empty_redis_settle_in_order_once(
    private_stack: ChaosStack,
) -> None:
    stack = private_stack
    # Given a quiet period of 2 s, a worker, beat and the API
    stack.set_policy(coalesce_s=COALESCE_S)
    workers = Workers(stack, stack.start_worker(concurrency=4))
    stack.start_beat()
    api_url = stack.start_api()
    scripts = conversation_scripts()
    poster = Poster(api_url, stack)

    # When sixty conversations send their bursts while the worker is SIGKILLed twice
    with ThreadPoolExecutor(max_workers=CONVERSATIONS) as pool:
        posting = [pool.submit(poster.play, script) for script in scripts]
        for _ in range(KILLS - 1):
            workers.kill_with_work_in_flight()
        for future in posting:
            future.result()
    bursts_ids = list(poster.ids)
    assert len(bursts_ids) == sum(len(script) for script in scripts)

    # And once half the conversations have their reply, every conversation writes once
    # more, and Redis dies and comes back empty with those follow-ups (and whatever else)
    # waiting on its queues
    assert workers.wait_until(
        lambda: answered_conversations() >= CONVERSATIONS // 2, ANSWERED_DEADLINE_S
    ), stack.states()
    follow_up_ids = stack.post_messages([follow_up(script) for script in scripts])
    stack.redis.restart_empty()

    # And the worker is SIGKILLed once more with work in flight
    workers.kill_with_work_in_flight()

    # Then every message settles: none lost, none dead, one text per message, audit intact
    workers.wait_until(workers.all_settled, SETTLE_TIMEOUT_S)
    ids = bursts_ids + follow_up_ids
    findings = check_invariants(stack, ids)
    assert findings.states["dead"] == 0, findings.dead_reasons
    assert sum(workers.caught_per_kill) > 0, "no task was in flight at any kill"
    assert findings.actions["reconciled"] > 0, "nothing came back through the reconciler?"

    # And per conversation: replies in message order, one per burst at most, by its last
    # message, and nothing withdrawn ever delivered
    reasons, twice = check_conversations(stack, findings)
    # (the half answered before their follow-up got a second reply, after the first)
    assert twice >= CONVERSATIONS // 2, twice
    assert findings.states["sent"] >= CONVERSATIONS // 2, findings.states
    resent = sum(len(v) - 1 for v in findings.posts.values() if len(v) > 1)
    print(
        "CHAOS "
        + json.dumps(
            {
                "scenario": "conversation_bursts",
                "conversations": CONVERSATIONS,
                "messages": len(ids),
                "tasks_held_per_kill": workers.caught_per_kill,
                "worker_exits_on_their_own": workers.exit_codes,
                "reconciled": findings.actions["reconciled"],
                "resent_posts_same_key": resent,
                "states": dict(findings.states),
                "reasons": dict(reasons),
                "conversations_answered_twice": twice,
            }
        )
    )
