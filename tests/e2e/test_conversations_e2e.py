"""Conversations end to end (SPEC 11 and 12, issue 12's "Done when"): the demo's 40
threads played over HTTP, all at once and at a quicker pace, through a real worker, beat,
the API, the simulator and a webhook receiver; then asserted from outside (the receiver's
POSTs, the API) and from the database.

A burst's fragments come closer together than the quiet period; any later message waits
for the previous one to settle, as a customer waits for an answer. Handoff threads have
their escalation approved (with a person's own text) or rejected through the API before
the customer writes again. One more thread, not in the demo file, gets a reply a person
never decided on superseded by the customer's next message.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

import app.demo
from app.audit import timeline, verify_chain
from app.config import reset_settings
from app.conversations import detect_opt_out
from app.db import session_scope
from app.db.models import AuditEvent, Message
from app.demo import procs
from app.demo.receiver import ReceivedPost
from app.pipeline.intake import accept_message
from app.pipeline.runner import execute
from app.pipeline.schemas import MessageIn
from app.policy import Policy, load_policy
from app.simulator.pricing import format_price
from tests.helpers import API_KEY, always_open_policy

THREADS_FILE = Path(app.demo.__file__).parent / "data" / "threads.jsonl"
COALESCE_S = 4
# The file's burst fragments are 1-2 s apart: 0.3-0.6 s here, far below COALESCE_S.
BURST_PACE = 0.3
# A delay shorter than this in the file is a fragment of a burst; a longer one is a
# customer writing again after Keel's answer (10-30 s in the file).
FRAGMENT_MAX_DELAY_S = 5.0
# ... and it comes at least this long after the message before it, so it is never taken
# for part of a burst (an opt-out's confirmation, for one, leaves at once).
LATER_MESSAGE_GAP_S = COALESCE_S + 1.0
SETTLE_TIMEOUT_S = 90.0
POLL_S = 0.25
SETTLED = frozenset({"sent", "no_reply", "rejected", "dead", "escalated"})
REVIEWER_KEY = "reviewer-token-0123456789"

# A person's answer to each language's refund request: passes every guardrail.
HUMAN_REPLY = {
    "es": "Hola, soy Marta, de secretaría. Ya estoy revisando tu caso con el equipo "
    "de administración y hoy mismo te escribo con una respuesta.",
    "pt": "Oi, aqui é a Marta, da secretaria. Já estou olhando o seu caso com a equipe "
    "administrativa e ainda hoje te escrevo com uma resposta.",
    "en": "Hi, this is Marta from the front desk. I am looking into your case with our "
    "accounts team and will write back today with an answer.",
}
# Handoff threads: the person approves with their own text, or rejects.
HANDOFF_DECISIONS = {"t-24": "approve", "t-25": "reject", "t-26": "approve", "t-27": "reject"}
# Follow-ups whose reply can only be right if the draft saw the earlier turn: the product
# only the first message named, priced in the currency the follow-up names (or, after a
# "yes", in the customer's own currency).
FOLLOW_UP_QUOTES = {
    "t-10": ("intensive-english", "BRL"),
    "t-11": ("business-english", "BRL"),
    "t-12": ("spanish-a1", "EUR"),
    "t-13": ("spanish-a1", "USD"),
    "t-14": ("exam-prep", "EUR"),
    "t-15": ("private-lesson", "USD"),
    "t-18": ("intensive-english", "USD"),
}
# A thread not in the demo file: the first reply is drafted but blocked by a guardrail
# (the simulator is told to promise), so it waits for a person; the customer writes again
# before anyone decides, and that unsent reply is superseded.
SUPERSEDE_THREAD: dict[str, Any] = {
    "thread": "t-supersede",
    "conversation_id": "conv-supersede",
    "channel": "whatsapp",
    "contact": {"id": "c-sup", "name": "Inés", "timezone": "Europe/Madrid", "locale": "es"},
    "kind": "supersede",
    "messages": [
        {"text": "buenas, cuánto cuesta el curso de portugués A1?", "delay_s": 0.0},
        {"text": "y la matrícula cuánto es?", "delay_s": 20.0},
    ],
    "outcome": None,
}
PROMISING_DRAFT = (
    "Hola Inés, el curso de portugués A1 cuesta 320,00 € y te garantizamos la plaza "
    "en el grupo que elijas."
)


def load_threads() -> list[dict[str, Any]]:
    lines = THREADS_FILE.read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# ---------------------------------------------------------------------- the stack


@pytest.fixture
def conversation_policy(
    monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str], tmp_path: Path
) -> Policy:
    """The bundled policy as shipped (local tier on), send window always open, bursts
    waited for COALESCE_S."""
    path = always_open_policy(
        tmp_path, local_tier=True, **{"coalesce_s = 0\n": f"coalesce_s = {COALESCE_S}\n"}
    )
    keel_env["KEEL_POLICY"] = path
    monkeypatch.setenv("KEEL_POLICY", path)
    reset_settings()
    return load_policy(Path(path))


@pytest.fixture
def stack(
    keel_env: dict[str, str],
    simulator: str,
    receiver: Any,
    conversation_policy: Policy,
    tmp_path: Path,
) -> Iterator[str]:
    """A worker, beat and the API as real processes; yields the API's base URL."""
    group = procs.Processes(tmp_path)
    env = {**os.environ, **keel_env, "KEEL_REVIEWER_KEYS": f"e2e-reviewer:{REVIEWER_KEY}"}
    port = procs.free_port()
    try:
        group.start("worker", procs.worker_argv(concurrency=4, name="conv-e2e"), env)
        group.start("beat", procs.beat_argv(tmp_path / "beat-schedule"), env)
        api = procs.python_argv(
            "-m", "uvicorn", "app.api:app", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        )  # fmt: skip
        group.start("api", api, env)
        base = f"http://127.0.0.1:{port}"
        procs.wait_for_http(f"{base}/healthz")
        yield base
    finally:
        group.stop_all()
        for log in tmp_path.glob("*.log"):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-4000:]}")


# ---------------------------------------------------------------------- waiting


class StateBoard:
    """Every message's state, read from the database by one poller, so that forty
    threads can wait on their own messages without forty pollers."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="state-board", daemon=True)

    def __enter__(self) -> StateBoard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _poll(self) -> None:
        table: sa.Table = Message.__table__  # type: ignore[attr-defined]
        while not self._stop.is_set():
            with session_scope() as session:
                rows = session.execute(sa.select(table.c.id, table.c.state)).all()
            with self._changed:
                self._states = {str(i): str(s) for i, s in rows}
                self._changed.notify_all()
            self._stop.wait(POLL_S)

    def state(self, message_id: str) -> str | None:
        with self._changed:
            return self._states.get(message_id)

    def wait_for(self, message_id: str, wanted: Callable[[str | None], bool], *, what: str) -> str:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        with self._changed:
            while not wanted(self._states.get(message_id)):
                left = deadline - time.monotonic()
                if left <= 0:
                    state = self._states.get(message_id)
                    raise AssertionError(f"{message_id} not {what} in time: {state}")
                self._changed.wait(left)
            return str(self._states[message_id])

    def wait_settled(self, message_id: str) -> str:
        return self.wait_for(message_id, lambda s: s in SETTLED, what="settled")


# ---------------------------------------------------------------------- playing


@dataclass
class Played:
    """One thread as it was played: the ids of its messages in order, what was decided."""

    thread: dict[str, Any]
    ids: list[str] = field(default_factory=list)
    decision: str | None = None
    superseded_review: int | None = None

    @property
    def name(self) -> str:
        return str(self.thread["thread"])

    @property
    def kind(self) -> str:
        return str(self.thread["kind"])

    @property
    def conversation_id(self) -> str:
        return str(self.thread.get("conversation_id") or self.thread["contact"]["id"])


@dataclass
class Player:
    api: str
    sim: str
    receiver: Any
    board: StateBoard

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        return httpx.Client(base_url=self.api, headers=headers, timeout=30)

    def payload(self, thread: dict[str, Any], index: int, item: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "external_id": f"{thread['thread']}-{index + 1}",
            "channel": thread["channel"],
            "contact": thread["contact"],
            "text": item["text"],
        }
        if thread.get("conversation_id"):
            body["conversation_id"] = thread["conversation_id"]
        offset_h = item.get("received_at_offset_h")
        if offset_h is not None:  # written that long ago (the file gives -30)
            written = dt.datetime.now(dt.UTC) - dt.timedelta(hours=abs(offset_h))
            body["received_at"] = written.isoformat()
        return body

    def reply_to(self, message_id: str) -> str:
        texts = {
            p.body["text"] for p in self.receiver.accepted() if p.body["message_id"] == message_id
        }
        assert len(texts) == 1, (message_id, texts)
        return texts.pop()

    def add_rules(self, rules: list[dict[str, Any]]) -> None:
        response = httpx.post(f"{self.sim}/_sim/rules", json=rules, timeout=10)
        assert response.status_code == 200, response.text

    def expect_history(self, played: Played) -> None:
        """Passive simulator rules (no answer of their own) that count the classify and
        draft calls whose prompt carries the earlier turns: the question, then the reply."""
        question = played.thread["messages"][0]["text"]
        turns = f'<turn role="customer">\n{question}\n</turn>'
        first = played.ids[0]
        if self.board.state(first) == "sent":
            turns += f'\n<turn role="keel">\n{self.reply_to(first)}\n</turn>'
        self.add_rules(
            [
                {"name": f"history-{task}-{played.name}", "when": {"task": task, "contains": turns}}
                for task in ("classify", "draft")
            ]
        )

    def decide_review(self, client: httpx.Client, played: Played) -> None:
        """A person approves (with their own text) or rejects the escalated first message."""
        first = played.ids[0]
        review = pending_review(client, first)
        decision = HANDOFF_DECISIONS[played.name]
        language = played.thread["contact"]["locale"]
        if decision == "approve":
            body = {"text": HUMAN_REPLY[language]}
        else:
            body = {"reason": "refund handled by phone"}
        response = as_reviewer(client, "POST", f"/v1/reviews/{review['id']}/{decision}", body)
        assert response.status_code == 200, response.text
        played.decision = decision
        final = "sent" if decision == "approve" else "rejected"
        self.board.wait_for(first, lambda s: s == final, what=final)

    def play(self, thread: dict[str, Any]) -> Played:
        played = Played(thread)
        posted = time.monotonic()
        with self.client() as client:
            for index, item in enumerate(thread["messages"]):
                if index and item["delay_s"] < FRAGMENT_MAX_DELAY_S:
                    time.sleep(item["delay_s"] * BURST_PACE)
                elif index:
                    # a customer writing again: after the answer, and never within a burst
                    self.board.wait_settled(played.ids[-1])
                    time.sleep(max(0.0, posted + LATER_MESSAGE_GAP_S - time.monotonic()))
                    if played.kind == "handoff" and played.decision is None:
                        self.decide_review(client, played)
                    elif played.kind == "follow_up":
                        self.expect_history(played)
                    elif played.kind == "supersede":
                        played.superseded_review = pending_review(client, played.ids[-1])["id"]
                posted = time.monotonic()
                response = client.post("/v1/messages", json=self.payload(thread, index, item))
                assert response.status_code == 202, response.text
                played.ids.append(response.json()["id"])
            for message_id in played.ids:  # then its outcome, if any
                self.board.wait_settled(message_id)
            if thread["outcome"] is not None:
                post_outcome(client, played)
        return played


def as_reviewer(client: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
    """SPEC 4: the review endpoints take reviewer keys only (the client's own is an
    ingest key); the audit names the reviewer after the key."""
    return client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {REVIEWER_KEY}"}
    )


def pending_review(client: httpx.Client, message_id: str) -> dict[str, Any]:
    response = as_reviewer(client, "GET", "/v1/reviews?status=pending&limit=1000")
    assert response.status_code == 200, response.text
    found = [r for r in response.json()["reviews"] if r["message_id"] == message_id]
    assert len(found) == 1, (message_id, found)
    return dict(found[0])


def post_outcome(client: httpx.Client, played: Played) -> None:
    """SPEC 12: by conversation id, or by the last message for a thread without one."""
    outcome = played.thread["outcome"]
    body: dict[str, Any] = {
        "external_id": f"crm-{played.name}",
        "channel": played.thread["channel"],
        "kind": outcome["kind"],
        "value": outcome["value"],
        "currency": outcome["currency"],
    }
    if played.thread.get("conversation_id"):
        body["conversation_id"] = played.thread["conversation_id"]
    else:
        body["message_id"] = played.ids[-1]
    first = client.post("/v1/outcomes", json=body)
    assert first.status_code == 202 and first.json()["duplicate"] is False, first.text
    again = client.post("/v1/outcomes", json=body)
    assert again.status_code == 200, again.text
    assert again.json() == {"id": first.json()["id"], "duplicate": True}


# ---------------------------------------------------------------------- reading


@dataclass
class Observed:
    """What the run left: rows, API views, the receiver's accepted POSTs in arrival order."""

    played: list[Played]
    messages: dict[str, Message]
    views: dict[str, dict[str, Any]]
    conversations: dict[str, dict[str, Any]]
    posts: list[ReceivedPost]
    reviews: list[dict[str, Any]]

    def delivered(self, message_id: str) -> list[ReceivedPost]:
        return [p for p in self.posts if p.body["message_id"] == message_id]

    def delivered_order(self, played: Played) -> list[str]:
        """Message ids of the thread in the order their first reply reached the receiver."""
        ours = set(played.ids)
        order: list[str] = []
        for post in self.posts:
            message_id = post.body["message_id"]
            if message_id in ours and message_id not in order:
                order.append(message_id)
        return order


def observe(api: str, played: list[Played], receiver: Any) -> Observed:
    with session_scope() as session:
        messages = {m.id: m for m in session.exec(select(Message)).all()}
        for message in messages.values():
            session.expunge(message)
    views: dict[str, dict[str, Any]] = {}
    conversations: dict[str, dict[str, Any]] = {}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
        for message_id in messages:
            response = client.get(f"/v1/messages/{message_id}")
            assert response.status_code == 200, response.text
            views[message_id] = response.json()
        for p in played:
            response = client.get(f"/v1/conversations/{p.thread['channel']}/{p.conversation_id}")
            assert response.status_code == 200, response.text
            conversations[p.name] = response.json()
        response = as_reviewer(client, "GET", "/v1/reviews?status=all&limit=1000")
        assert response.status_code == 200, response.text
        reviews = response.json()["reviews"]
    return Observed(played, messages, views, conversations, receiver.accepted(), reviews)


def bursts(observed: Observed, played: Played) -> list[list[str]]:
    """The thread's messages split where Keel saw them arrive COALESCE_S or more apart."""
    groups: list[list[str]] = []
    previous: dt.datetime | None = None
    for message_id in played.ids:
        at = observed.messages[message_id].created_at
        if previous is None or (at - previous).total_seconds() >= COALESCE_S:
            groups.append([])
        groups[-1].append(message_id)
        previous = at
    return groups


def story(observed: Observed, played: Played) -> str:
    """A thread's messages as Keel saw them, for a failure's message: when each arrived
    (seconds after the first), its state and reason, and its audit timeline."""
    start = observed.messages[played.ids[0]].created_at
    lines = [played.name]
    for message_id in played.ids:
        message, view = observed.messages[message_id], observed.views[message_id]
        steps = [
            f"{(dt.datetime.fromisoformat(e['at']) - start).total_seconds():.1f}:{e['action']}"
            for e in view["timeline"]
        ]
        at = (message.created_at - start).total_seconds()
        lines.append(
            f"  {message_id[:8]} +{at:.2f}s {message.state}/{message.reason} "
            f"answered_by={str(message.answered_by)[:8]} {' '.join(steps)}"
        )
    return "\n".join(lines)


def quoted(reply: str, amount: Decimal, currency: str, language: str) -> bool:
    return any(format_price(amount, currency, language, short=s) in reply for s in (True, False))


# ---------------------------------------------------------------------- the test


@pytest.mark.slow
def test_forty_demo_threads_played_over_http_settle_in_order_coalesced_and_in_context(
    stack: str, simulator: str, receiver: Any, conversation_policy: Policy
) -> None:
    policy = conversation_policy
    threads = [*load_threads(), SUPERSEDE_THREAD]
    assert len(threads) == 41
    httpx.post(
        f"{simulator}/_sim/rules",
        json={
            "name": "promise",
            "when": {
                "task": "draft",
                "contains": SUPERSEDE_THREAD["messages"][0]["text"] + "\n</customer_message>",
            },
            "respond": {"text": PROMISING_DRAFT},
        },
        timeout=10,
    ).raise_for_status()

    # Given every thread played at once, each at its own (quicker) pace
    started = time.monotonic()
    with StateBoard() as board, ThreadPoolExecutor(max_workers=len(threads)) as pool:
        player = Player(api=stack, sim=simulator, receiver=receiver, board=board)
        played = list(pool.map(player.play, threads))
        played_s = time.monotonic() - started

        # And a superseded reply's review can no longer be approved
        supersede = played[-1]
        assert supersede.superseded_review is not None
        with player.client() as client:
            late = as_reviewer(
                client, "POST", f"/v1/reviews/{supersede.superseded_review}/approve", {}
            )
        assert late.status_code == 409, late.text

    observed = observe(stack, played, receiver)
    messages, views = observed.messages, observed.views

    # Then every message the API accepted settled, none dead
    assert len(messages) == sum(len(p.ids) for p in played)
    states = Counter(m.state for m in messages.values())
    assert set(states) <= SETTLED - {"dead"}, states

    # And no Idempotency-Key ever carried two texts; every POST is signed and for a sent
    # message, and every sent message was received
    texts_by_key: dict[str | None, set[str]] = defaultdict(set)
    for post in observed.posts:
        texts_by_key[post.idempotency_key].add(post.body["text"])
        assert post.signature_ok
        assert post.idempotency_key == f"keel-{post.body['message_id']}"
        assert messages[post.body["message_id"]].state == "sent", post.body
    assert all(len(texts) == 1 for texts in texts_by_key.values()), texts_by_key
    sent = {m.id for m in messages.values() if m.state == "sent"}
    assert {p.body["message_id"] for p in observed.posts} == sent

    rules = {
        rule["name"]: rule["matched"]
        for rule in httpx.get(f"{simulator}/_sim/rules", timeout=10).json()["rules"]
    }
    for p in played:
        view = [views[i] for i in p.ids]
        delivered = [i for i in p.ids if observed.delivered(i)]

        # Per conversation, replies reached the receiver in the order the messages came
        order = observed.delivered_order(p)
        assert order == [i for i in p.ids if i in order], story(observed, p)

        # A burst gets one reply at most, carried by its last message; the earlier ones
        # are coalesced and point at it
        for burst in bursts(observed, p):
            carried = [i for i in burst if i in delivered]
            assert len(carried) <= 1, (p.name, burst)
            assert carried in ([], [burst[-1]]), story(observed, p)
            if len(burst) > 1 and carried:
                for earlier in burst[:-1]:
                    assert views[earlier]["state"] == "no_reply", (p.name, views[earlier])
                    assert views[earlier]["reason"] == "coalesced", (p.name, views[earlier])
                    assert views[earlier]["answered_by"] == burst[-1], (p.name, views[earlier])

        # The conversation shows every customer message, in order, and what was sent
        conversation = observed.conversations[p.name]
        customer = [t["message_id"] for t in conversation["turns"] if t["role"] == "customer"]
        assert customer == p.ids, p.name
        replies = [t["message_id"] for t in conversation["turns"] if t["role"] != "customer"]
        assert replies == delivered, p.name

        if p.kind == "burst":
            assert len(bursts(observed, p)) == 1, f"{p.name}: fragments arrived too far apart"
            assert [v["state"] for v in view[:-1]] == ["no_reply"] * (len(view) - 1), p.name
            assert view[-1]["state"] == "sent" and delivered == [p.ids[-1]], (p.name, view)
            assert view[-1]["answered_by"] == p.ids[-1]

        elif p.kind == "follow_up":
            first, follow_up = view
            assert first["state"] == "sent", (p.name, first)
            # the follow-up's prompts carried the question and Keel's reply to it
            assert rules[f"history-classify-{p.name}"] >= 1, (p.name, rules)
            if follow_up["intent"] == "thanks":  # "ok gracias": nothing to answer
                assert (follow_up["state"], follow_up["reason"]) == ("no_reply", "intent:thanks")
            else:
                assert follow_up["state"] == "sent", (p.name, follow_up)
                assert rules[f"history-draft-{p.name}"] >= 1, (p.name, rules)
            if p.name in FOLLOW_UP_QUOTES:
                sku, currency = FOLLOW_UP_QUOTES[p.name]
                (item,) = [c for c in policy.guardrails.catalog if c.sku == sku]
                language = p.thread["contact"]["locale"]
                reply = follow_up["reply"] or ""
                assert quoted(reply, item.prices[currency], currency, language), (p.name, reply)

        elif p.kind == "opt_out":
            question, stop, later = p.ids
            # (in which language: see the test after this one)
            confirmations = set(policy.conversations.opt_out_confirmation.values())
            assert views[question]["state"] == "sent"
            assert views[stop]["state"] == "sent", (p.name, views[stop])
            assert views[stop]["reply"] in confirmations, (p.name, views[stop])
            assert views[later]["state"] == "no_reply", views[later]
            assert views[later]["reason"] == "opted_out", views[later]
            assert conversation["status"] == "opted_out"
            # nothing reached the contact after the confirmation of their opt-out
            contact = p.thread["contact"]["id"]
            to_contact = [
                post["message_id"]
                for post in (x.body for x in observed.posts)
                if post["contact_id"] == contact and post["channel"] == p.thread["channel"]
            ]
            assert to_contact[-1] == stop and to_contact.count(stop) == 1, (p.name, to_contact)

        elif p.kind == "handoff":
            first, *later = view
            assert first["state"] == ("sent" if p.decision == "approve" else "rejected")
            if p.decision == "approve":
                assert first["reply"] == HUMAN_REPLY[p.thread["contact"]["locale"]]
                assert [t["role"] for t in conversation["turns"]][:2] == ["customer", "human"]
            # nothing went out on Keel's own in the conversation once a person acted
            assert delivered == ([p.ids[0]] if p.decision == "approve" else []), p.name
            for message in later:  # each waits for a person, with the conversation shown
                assert (message["state"], message["reason"]) == ("escalated", "handoff")
                (review,) = [r for r in observed.reviews if r["message_id"] == message["id"]]
                assert (review["status"], review["reason"]) == ("pending", "handoff")
                shown = [t["message_id"] for t in review["conversation"]]
                assert p.ids[0] in shown and message["id"] in shown, (p.name, review)
            assert conversation["status"] == "handoff"

        elif p.kind == "old_whatsapp":
            (only,) = view
            assert (only["state"], only["reason"]) == ("escalated", "reply_window_closed")
            assert not delivered

        elif p.kind == "supersede":
            blocked, carrier = view
            assert (blocked["state"], blocked["reason"]) == ("no_reply", "superseded")
            assert blocked["answered_by"] == carrier["id"]
            assert carrier["state"] == "sent" and delivered == [carrier["id"]]

        elif p.kind in ("sleeping", "plain"):
            for message in view:  # answered, or a thank-you that needs no answer
                expected = (
                    ("no_reply", "intent:thanks")
                    if message["intent"] == "thanks"
                    else ("sent", None)
                )
                assert (message["state"], message["reason"]) == expected, (p.name, message)

    # A superseded or withdrawn reply never reached the receiver
    withdrawn = [m for m in messages.values() if m.reason in ("superseded", "coalesced")]
    assert any(m.reason == "superseded" for m in withdrawn)
    assert not [m.id for m in withdrawn if observed.delivered(m.id)]

    # Every outcome is audited once on its conversation's latest message, and every
    # message's audit chain verifies
    with session_scope() as session:
        outcome_events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "outcome")
        ).all()
        for message_id in messages:
            assert verify_chain(timeline(session, message_id)) is None, message_id
    with_outcome = [p for p in played if p.thread["outcome"] is not None]
    assert sorted(str(e.message_id) for e in outcome_events) == sorted(
        p.ids[-1] for p in with_outcome
    )

    print(
        "CONVERSATIONS "
        + json.dumps(
            {
                "threads": len(played),
                "messages": len(messages),
                "played_s": round(played_s, 1),
                "states": dict(states),
                "reasons": dict(Counter(m.reason for m in messages.values() if m.reason)),
                "posts": len(observed.posts),
            }
        )
    )


def test_a_one_word_opt_out_is_confirmed_in_the_language_of_the_word_and_of_the_contact(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Found by the run above (t-23): "SAIR" from a Portuguese contact is confirmed in
    English. `ingest` (app/pipeline/steps.py) sets `message.language` to the language the
    input screen guesses from the text ("en" for one short word), and `opted_out`
    (app/pipeline/turns.py) prefers it to the contact's locale ("pt") and to the language
    of the opt-out rule that fired (`keyword.sair`, "pt")."""
    path = always_open_policy(tmp_path)
    monkeypatch.setenv("KEEL_POLICY", path)
    reset_settings()
    policy = load_policy(Path(path))
    # Given a Portuguese contact on WhatsApp who writes "SAIR" (Portuguese for "leave")
    payload = {
        "external_id": "sair-1",
        "channel": "whatsapp",
        "contact": {"id": "c-sair", "name": "Ana", "timezone": "America/Sao_Paulo", "locale": "pt"},
        "text": "SAIR",
        "conversation_id": "conv-sair",
    }
    assert detect_opt_out("SAIR") is not None and detect_opt_out("SAIR").language == "pt"
    with session_scope() as session:
        message, _ = accept_message(
            session=session, message_in=MessageIn.model_validate(payload), actor="api"
        )
        message_id = message.id

    # When its ingest step runs
    execute("ingest", message_id)

    # Then the confirmation drafted for it is the Portuguese one
    with session_scope() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        reply = stored.reply_text
    assert reply == policy.conversations.opt_out_confirmation["pt"]
