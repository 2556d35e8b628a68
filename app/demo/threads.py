"""The demo's conversation threads (SPEC 11, 12), played over the API while the inbox is
processed: forty customers who split a question over a burst of messages, follow up on a
reply, ask to hear nothing more, need a person, write at night, or wrote on WhatsApp 30
hours ago (`app/demo/data/threads.jsonl`).

Every thread plays in a thread of its own, as a client would: each message is posted
`delay_s` after the previous one, scaled by the `Pace` (a burst's fragments stay less than
the policy's `coalesce_s` apart, a new turn never comes sooner than that). A new turn also
waits until the previous message has come to rest: its reply sent, or nothing left to
send, as its state in the database says (bounded: past `rest_timeout_s` it goes anyway;
the database is read rather than the API so that forty waiting customers do not load the
machine the worker runs on). Before a handoff thread's next message a person decides its
escalated review through `POST /v1/reviews/{id}/approve` (with a reply of their own) or
`.../reject`, and once a thread's replies are out its outcome goes to `POST /v1/outcomes`.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from app.db import session_scope
from app.db.models import Message, MessageState

THREADS = Path(__file__).with_name("data") / "threads.jsonl"
# A message has come to rest when nothing more happens to it by itself.
AT_REST = frozenset(
    {
        MessageState.sent,
        MessageState.no_reply,
        MessageState.escalated,
        MessageState.scheduled,
        MessageState.rejected,
        MessageState.dead,
    }
)
# The name of the demo's reviewer key (KEEL_REVIEWER_KEYS): the audit records it.
REVIEWER = "demo-reviewer"
# What the person who takes a handoff over writes back, in the contact's language.
HUMAN_REPLIES = {
    "es": (
        "Hola {name}, soy Marta, de administración. Ya tengo tu caso y lo estoy revisando "
        "con contabilidad; te escribo hoy mismo con lo que encontremos."
    ),
    "pt": (
        "Oi {name}, aqui é a Marta, da secretaria. Já estou com o seu caso e estou "
        "verificando com o financeiro; volto a falar com você ainda hoje."
    ),
    "en": (
        "Hi {name}, this is Marta from the office. I have your case and I am checking it "
        "with our accounts team; I will write back today with what we find."
    ),
}
REJECT_REASON = "handled by phone"
# An outcome that says the customer walked away: the person rejects the review instead.
LOST = "lost"


@dataclass(frozen=True)
class ThreadMessage:
    text: str
    delay_s: float
    received_at_offset_h: float | None = None


@dataclass(frozen=True)
class DemoThread:
    """One line of `threads.jsonl`."""

    thread: str
    kind: str
    channel: str
    contact: dict[str, str]
    conversation_id: str | None
    messages: tuple[ThreadMessage, ...]
    outcome: dict[str, str | None] | None

    @property
    def conversation(self) -> str:
        """How the API names the conversation: its id, or the contact's without one."""
        return self.conversation_id or self.contact["id"]

    def payload(self, index: int, *, now: dt.datetime) -> dict[str, Any]:
        """`POST /v1/messages` body of the thread's message `index`."""
        message = self.messages[index]
        body: dict[str, Any] = {
            "external_id": f"{self.thread}-m{index + 1}",
            "channel": self.channel,
            "contact": self.contact,
            "text": message.text,
            "metadata": {"demo_thread": self.thread, "kind": self.kind},
        }
        if self.conversation_id is not None:
            body["conversation_id"] = self.conversation_id
        if message.received_at_offset_h is not None:
            written = now + dt.timedelta(hours=message.received_at_offset_h)
            body["received_at"] = written.isoformat()
        return body


def load_threads(path: Path = THREADS) -> list[DemoThread]:
    threads = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        threads.append(
            DemoThread(
                thread=raw["thread"],
                kind=raw["kind"],
                channel=raw["channel"],
                contact=raw["contact"],
                conversation_id=raw.get("conversation_id"),
                messages=tuple(ThreadMessage(**m) for m in raw["messages"]),
                outcome=raw.get("outcome"),
            )
        )
    return threads


@dataclass(frozen=True)
class Pace:
    """How fast the threads play: `scale` times the written delays, within the bounds
    that keep a burst a burst and a new turn a new turn."""

    coalesce_s: float
    scale: float = 0.5
    rest_timeout_s: float = 90.0
    poll_s: float = 0.5
    turn_margin_s: float = 2.0

    def is_burst(self, delay_s: float) -> bool:
        return delay_s < self.coalesce_s

    def gap_s(self, delay_s: float) -> float:
        """The scaled delay: under `coalesce_s / 2` inside a burst, at least
        `coalesce_s + turn_margin_s` before a new turn."""
        scaled = delay_s * self.scale
        if self.is_burst(delay_s):
            return min(scaled, self.coalesce_s / 2)
        return max(scaled, self.coalesce_s + self.turn_margin_s)


@dataclass
class Played:
    """What playing one thread did."""

    thread: str
    kind: str
    channel: str
    conversation: str
    message_ids: list[str] = field(default_factory=list)
    review: str | None = None  # "approved" or "rejected" by the demo's reviewer
    outcome_id: str | None = None
    # waits for a message to come to rest that gave up after `rest_timeout_s`
    timed_out: int = 0
    error: str | None = None


class Stopped(Exception):
    """Raised inside a thread's player when the demo stops it."""


class ThreadPlayer:
    """Plays every thread concurrently over one HTTP client (authenticated on the API with
    an ingest key); the person deciding reviews uses a reviewer key of their own."""

    def __init__(
        self, *, client: httpx.Client, threads: list[DemoThread], pace: Pace, reviewer_key: str
    ) -> None:
        self.client = client
        self.reviewer = {"Authorization": f"Bearer {reviewer_key}"}
        self.threads = threads
        self.pace = pace
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._posted = 0
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[Played]] = []

    @property
    def total_messages(self) -> int:
        return sum(len(t.messages) for t in self.threads)

    @property
    def posted(self) -> int:
        with self._lock:
            return self._posted

    def start(self) -> ThreadPlayer:
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(self.threads)), thread_name_prefix="demo-thread"
        )
        self._futures = [self._pool.submit(self._play, t) for t in self.threads]
        return self

    def done(self) -> bool:
        return all(f.done() for f in self._futures)

    def stop(self) -> None:
        """Wake every waiting thread and end it; waits for the pool."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def results(self) -> list[Played]:
        """What every thread did (waits for those still playing)."""
        return [f.result() for f in self._futures]

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stop.wait(seconds):
            raise Stopped

    def _state(self, message_id: str) -> str | None:
        with session_scope() as session:
            return session.exec(select(Message.state).where(Message.id == message_id)).first()

    def _wait_at_rest(self, message_id: str) -> str | None:
        """The message's state once at rest; None if it was not by `rest_timeout_s`."""
        deadline = time.monotonic() + self.pace.rest_timeout_s
        while True:
            state = self._state(message_id)
            if state in AT_REST:
                return state
            if time.monotonic() >= deadline:
                return None
            self._sleep(self.pace.poll_s)

    def _post(self, thread: DemoThread, index: int) -> str:
        body = thread.payload(index, now=dt.datetime.now(dt.UTC))
        response = self.client.post("/v1/messages", json=body)
        response.raise_for_status()
        with self._lock:
            self._posted += 1
        return str(response.json()["id"])

    def _decide(self, thread: DemoThread, message_id: str) -> str | None:
        """A person decides the message's pending review: approves it with a reply of
        their own, or rejects it when the customer was lost. None without a review."""
        response = self.client.get(
            "/v1/reviews", params={"status": "pending", "limit": 1000}, headers=self.reviewer
        )
        response.raise_for_status()
        review = next(
            (r for r in response.json()["reviews"] if r["message_id"] == message_id), None
        )
        if review is None:
            return None
        if thread.outcome is not None and thread.outcome["kind"] == LOST:
            path = f"/v1/reviews/{review['id']}/reject"
            body = {"reason": REJECT_REASON}
            self.client.post(path, json=body, headers=self.reviewer).raise_for_status()
            return "rejected"
        locale = thread.contact.get("locale", "en")
        text = HUMAN_REPLIES.get(locale, HUMAN_REPLIES["en"]).format(name=thread.contact["name"])
        path = f"/v1/reviews/{review['id']}/approve"
        self.client.post(path, json={"text": text}, headers=self.reviewer).raise_for_status()
        return "approved"

    def _post_outcome(self, thread: DemoThread) -> str | None:
        if thread.outcome is None:
            return None
        body = {
            "external_id": f"demo-{thread.thread}",
            "channel": thread.channel,
            "conversation_id": thread.conversation,
            **thread.outcome,
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        response = self.client.post("/v1/outcomes", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def _play(self, thread: DemoThread) -> Played:
        played = Played(
            thread=thread.thread,
            kind=thread.kind,
            channel=thread.channel,
            conversation=thread.conversation,
        )
        try:
            self._play_into(thread, played)
        except Stopped:
            played.error = "stopped"
        except httpx.HTTPError as exc:
            played.error = f"{type(exc).__name__}: {exc}"
        return played

    def _play_into(self, thread: DemoThread, played: Played) -> None:
        posted_at = time.monotonic()
        for index, message in enumerate(thread.messages):
            if index:
                gap_s = self.pace.gap_s(message.delay_s)
                if not self.pace.is_burst(message.delay_s):
                    previous = played.message_ids[-1]
                    state = self._wait_at_rest(previous)
                    played.timed_out += state is None
                    if thread.kind == "handoff" and state == MessageState.escalated:
                        played.review = self._decide(thread, previous)
                        if played.review == "approved":
                            played.timed_out += self._wait_at_rest(previous) is None
                self._sleep(posted_at + gap_s - time.monotonic())
            played.message_ids.append(self._post(thread, index))
            posted_at = time.monotonic()
        for message_id in played.message_ids:
            played.timed_out += self._wait_at_rest(message_id) is None
        played.outcome_id = self._post_outcome(thread)
