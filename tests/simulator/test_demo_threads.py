"""The demo's conversation threads (`app/demo/data/threads.jsonl`): well-formed, priced from
the catalog, and answered by the simulator the way each kind of thread means."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.conversations.optout import detect_opt_out
from app.guardrails import check_prices
from app.policy import Policy
from app.policy.loader import BUNDLED_POLICY_PATH, load_policy
from app.prompts import Turn, classify_prompt, draft_prompt, parse_classification

Ask = Callable[..., Any]

THREADS = Path(__file__).parents[2] / "app" / "demo" / "data" / "threads.jsonl"
FIELDS = {"thread", "channel", "contact", "kind", "messages", "outcome"}
CONTACT_FIELDS = {"id", "name", "timezone", "locale"}
CHANNELS = {"whatsapp", "email", "sms", "web"}
# Kind -> (fewest, most) threads of that kind in the file.
KIND_COUNTS = {
    "burst": (7, 10),
    "follow_up": (7, 10),
    "opt_out": (4, 6),
    "handoff": (3, 5),
    "sleeping": (3, 6),
    "plain": (3, 6),
    "old_whatsapp": (3, 3),
}


def _lines() -> list[str]:
    return [line for line in THREADS.read_text("utf-8").splitlines() if line.strip()]


def _threads() -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines()]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(BUNDLED_POLICY_PATH)


def _texts(thread: dict[str, Any]) -> list[str]:
    return [message["text"] for message in thread["messages"]]


def _delays(thread: dict[str, Any]) -> list[float]:
    return [message["delay_s"] for message in thread["messages"]]


def test_every_line_is_a_thread_with_the_documented_fields() -> None:
    for number, line in enumerate(_lines(), start=1):
        thread = json.loads(line)
        assert isinstance(thread, dict), number
        assert FIELDS <= set(thread) <= FIELDS | {"conversation_id"}, number
        suffix = thread["thread"].removeprefix("t-")
        assert thread["thread"] == f"t-{number:02d}" and suffix.isdigit()
        assert thread.get("conversation_id", f"conv-t{suffix}") == f"conv-t{suffix}"
        assert thread["channel"] in CHANNELS
        contact = thread["contact"]
        assert set(contact) == CONTACT_FIELDS and contact["id"] == f"c-t{suffix}"
        assert contact["name"].strip() and contact["locale"] in ("es", "pt", "en")
        ZoneInfo(contact["timezone"])  # an IANA name
        assert thread["kind"] in KIND_COUNTS
        messages = thread["messages"]
        assert isinstance(messages, list) and messages
        for message in messages:
            assert set(message) <= {"text", "delay_s", "received_at_offset_h"}
            assert isinstance(message["text"], str) and message["text"].strip()
            assert isinstance(message["delay_s"], float) and message["delay_s"] >= 0
        assert messages[0]["delay_s"] == 0.0
        outcome = thread["outcome"]
        assert outcome is None or set(outcome) == {"kind", "value", "currency"}


def test_the_file_has_about_forty_threads_of_every_kind_a_quarter_with_an_outcome(
    policy: Policy,
) -> None:
    threads = _threads()
    kinds = Counter(thread["kind"] for thread in threads)
    outcomes = [thread["outcome"] for thread in threads if thread["outcome"] is not None]

    assert 36 <= len(threads) <= 44
    for kind, (fewest, most) in KIND_COUNTS.items():
        assert fewest <= kinds[kind] <= most, kind
    assert sum(1 for thread in threads if "conversation_id" not in thread) == 5
    assert len({thread["contact"]["id"] for thread in threads}) == len(threads)
    assert {thread["contact"]["locale"] for thread in threads} == {"es", "pt", "en"}
    assert 0.2 <= len(outcomes) / len(threads) <= 0.3
    assert {outcome["kind"] for outcome in outcomes} <= set(policy.outcomes.kinds)


def test_each_kind_of_thread_has_its_shape() -> None:
    for thread in _threads():
        kind, texts, delays = thread["kind"], _texts(thread), _delays(thread)
        offsets = [message.get("received_at_offset_h") for message in thread["messages"]]
        if kind == "burst":
            assert len(texts) in (2, 3) and all(1.0 <= d <= 2.0 for d in delays[1:]), thread
        elif kind == "follow_up":
            assert len(texts) == 2 and delays[1] == 20.0, thread
        elif kind == "opt_out":
            assert len(texts) == 3 and delays[1:] == [20.0, 10.0], thread
        elif kind == "handoff":
            assert len(texts) >= 2 and all(d >= 10.0 for d in delays[1:]), thread
        elif kind in ("sleeping", "old_whatsapp"):
            assert len(texts) == 1, thread
        if kind == "old_whatsapp":
            assert thread["channel"] == "whatsapp" and offsets == [-30], thread
        else:
            assert offsets == [None] * len(texts), thread


def test_every_price_a_customer_mentions_or_an_outcome_records_is_a_catalog_price(
    policy: Policy,
) -> None:
    catalog = {
        (currency, amount)
        for item in policy.guardrails.catalog
        for currency, amount in item.prices.items()
    }
    for thread in _threads():
        for text in _texts(thread):
            assert check_prices(text, policy=policy).passed, text
        outcome = thread["outcome"]
        if outcome is not None and outcome["kind"] == "enrolled":
            assert (outcome["currency"], Decimal(outcome["value"])) in catalog, thread["thread"]
        elif outcome is not None:
            assert outcome["value"] is None and outcome["currency"] is None, thread["thread"]


def test_only_the_middle_message_of_an_opt_out_thread_asks_to_stop() -> None:
    for thread in _threads():
        stops = [detect_opt_out(text) is not None for text in _texts(thread)]
        expected = [False, True, False] if thread["kind"] == "opt_out" else [False] * len(stops)
        assert stops == expected, thread["thread"]


def _classify(
    ask: Ask, policy: Policy, text: str, history: list[Turn]
) -> tuple[str, str | None, float]:
    prompt = classify_prompt(policy=policy, text=text, history=history)
    raw = ask(prompt.user, system=prompt.full_system, task="classify")
    return parse_classification(raw.content[0].text, intents=tuple(policy.routing.intents))


def test_every_follow_up_is_classified_confidently_in_the_light_of_its_question(
    ask_claude: Ask, policy: Policy
) -> None:
    for thread in (t for t in _threads() if t["kind"] == "follow_up"):
        question, follow_up = _texts(thread)
        intent, language, _ = _classify(ask_claude, policy, question, [])
        assert intent == "pricing" and language is not None, question
        prompt = draft_prompt(
            policy=policy,
            text=question,
            intent=intent,
            language=language,
            contact_name=thread["contact"]["name"],
        )
        reply = ask_claude(prompt.user, system=prompt.full_system, task="draft").content[0].text
        history = [Turn("customer", question), Turn("keel", reply)]

        intent, language, confidence = _classify(ask_claude, policy, follow_up, history)

        assert intent in ("pricing", "enrollment", "thanks"), (follow_up, intent)
        assert language == thread["contact"]["locale"], follow_up
        assert confidence >= policy.routing.flagship_below_confidence, follow_up


def test_every_handoff_starts_with_a_refund_request_and_every_burst_ends_answerable(
    ask_claude: Ask, policy: Policy
) -> None:
    for thread in _threads():
        texts = _texts(thread)
        if thread["kind"] == "handoff":
            assert _classify(ask_claude, policy, texts[0], [])[0] == "refund_request", texts[0]
        elif thread["kind"] == "burst":
            intent, _, confidence = _classify(ask_claude, policy, "\n".join(texts), [])
            assert intent != "other", texts
            assert confidence >= policy.routing.escalate_below_confidence, texts
