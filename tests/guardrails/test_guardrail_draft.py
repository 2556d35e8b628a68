"""The length check, and every output check run together on one draft."""

from __future__ import annotations

import json

import pytest

from app.guardrails import Verdict, blocked, check_draft, check_length
from app.policy import load_policy

POLICY = load_policy()  # whatsapp 1200, sms 480, email 4000, web 2000


@pytest.mark.parametrize(("channel", "limit"), [("whatsapp", 1200), ("sms", 480), ("email", 4000)])
def test_a_reply_at_the_channel_limit_passes_and_one_character_more_is_too_long(
    channel: str, limit: int
) -> None:
    at_limit = check_length("a" * limit, policy=POLICY, channel=channel)
    over = check_length("a" * (limit + 1), policy=POLICY, channel=channel)

    assert at_limit.passed
    assert not over.passed
    assert over.reason == "too_long"
    assert over.detail == {"channel": channel, "chars": limit + 1, "max_chars": limit}


def test_a_channel_without_a_configured_limit_passes_any_length() -> None:
    verdict = check_length("a" * 100_000, policy=POLICY, channel="carrier-pigeon")

    assert verdict.passed
    assert verdict.detail["max_chars"] is None


def test_a_good_draft_passes_every_check_in_order() -> None:
    draft = "¡Hola! El curso intensivo cuesta 450 € (R$ 2.300,00 o US$ 490). Un saludo."

    verdicts = check_draft(draft, policy=POLICY, channel="whatsapp", language="es")

    assert [v.check for v in verdicts] == [
        "prices",
        "offers",
        "promises",
        "links",
        "contact_data",
        "language",
        "prompt_echo",
        "length",
    ]
    assert blocked(verdicts) == []


def test_a_draft_with_a_wrong_price_that_is_too_long_is_blocked_by_both_checks() -> None:
    draft = "The course is $489. " + "Lorem ipsum. " * 40

    verdicts = check_draft(draft, policy=POLICY, channel="sms", language="en")

    assert [(v.check, v.reason) for v in blocked(verdicts)] == [
        ("prices", "price_not_in_catalog"),
        ("length", "too_long"),
    ]


def test_blocked_keeps_failures_that_block_and_drops_passes_and_mere_delays() -> None:
    failing = Verdict(check="prices", passed=False, reason="price_not_in_catalog")
    passing = Verdict(check="length", passed=True)
    delay = Verdict(check="send_window", passed=False, reason="outside_send_window", blocking=False)

    assert blocked(iter([failing, passing, delay])) == [failing]


def test_every_verdict_detail_is_json_serialisable() -> None:
    draft = "Son 449 €, £400 y R$ 2.300,00; 10% off at 18:30."

    verdicts = check_draft(draft, policy=POLICY, channel="sms", language="es")

    assert json.loads(json.dumps([v.detail for v in verdicts])) == [v.detail for v in verdicts]
