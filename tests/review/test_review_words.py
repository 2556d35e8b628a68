"""Escalation reasons and guardrail verdicts read as sentences, with their evidence."""

from __future__ import annotations

import pytest

from app.review import explain_reason, explain_violation
from app.review.words import kind_label, reason_kind


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("intent:refund_request", "asks for a refund"),
        ("intent:complaint", "every 'complaint' message to a person"),
        ("low_confidence", "not sure what the customer wants"),
        ("injection_suspected", "prompt injection"),
        ("handoff", "taken this conversation over"),
        ("reply_window_closed", "reply window has closed"),
        ("guardrail:prices:price_not_in_catalog", "blocked by the guardrails"),
        ("something_new", "Something new."),
    ],
)
def test_every_escalation_reason_reads_as_a_sentence(reason: str, words: str) -> None:
    assert words in explain_reason(reason)


def test_a_blocked_verdict_names_what_the_text_does_and_the_words_that_did_it() -> None:
    price = {"check": "prices", "reason": "price_not_in_catalog", "bad": ["399.00 EUR"]}
    promise = {"check": "promises", "reason": "promise", "phrases": ["es:reembolso completo"]}
    too_long = {"check": "length", "reason": "too_long", "chars": 1200, "max_chars": 1000}
    phone = {"check": "contact_data", "reason": "foreign_phone"}

    assert explain_violation(price) == (
        "The text quotes a price that is not in the catalog: “399.00 EUR”."
    )
    assert explain_violation(promise) == (
        "The text promises something the business cannot keep: “reembolso completo”."
    )
    assert explain_violation(too_long) == (
        "The text is too long for the channel: 1200 characters, at most 1000."
    )
    assert explain_violation(phone) == (
        "The text gives a phone number that is not the business's own."
    )
    assert explain_violation({"check": "new", "reason": "odd_thing"}) == "The text new:odd thing."


def test_long_evidence_is_cut_to_five_items() -> None:
    links = {"check": "links", "reason": "foreign_link", "foreign": [f"x{i}.io" for i in range(8)]}

    assert explain_violation(links).endswith("“x4.io” and 3 more.")


def test_the_queue_filters_every_guardrail_block_as_one_family() -> None:
    assert reason_kind("guardrail:prices:price_not_in_catalog,links:foreign_link") == "guardrail"
    assert reason_kind("intent:refund_request") == "intent:refund_request"
    assert kind_label("guardrail") == "guardrail block"
    assert kind_label("intent:refund_request") == "refund request"
    assert kind_label("low_confidence") == "low confidence"
