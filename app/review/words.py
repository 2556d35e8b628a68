"""Escalation reasons and guardrail verdicts in words, for the people who decide.

Keel records machine codes (`intent:refund_request`, `prices:price_not_in_catalog`);
front-desk staff read sentences. Pure functions over the recorded values, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

GUARDRAIL_PREFIX = "guardrail:"

_REASONS = {
    "low_confidence": "The model was not sure what the customer wants.",
    "injection_suspected": (
        "The message looks like an attempt to change Keel's instructions (prompt injection)."
    ),
    "handoff": "A person has taken this conversation over, so Keel does not answer it.",
    "reply_window_closed": (
        "The channel's reply window has closed: only a person can decide what to send now."
    ),
    "unusable_model_answer": "The model's answer could not be used to route the message.",
}
_INTENTS = {
    "refund_request": "The customer asks for a refund: the policy sends these to a person.",
}
# check:reason -> what the text does wrong; the evidence, when recorded, follows it.
_VIOLATIONS = {
    "prices:price_not_in_catalog": "quotes a price that is not in the catalog",
    "prices:currency_not_in_catalog": "quotes a price in a currency the catalog does not use",
    "offers:unlisted_offer": "makes an offer the policy does not list",
    "offers:discount_not_in_policy": "offers a discount the policy does not allow",
    "offers:amount_off": "takes an amount off (only the policy's discounts may be offered)",
    "promises:promise": "promises something the business cannot keep",
    "links:foreign_link": "links to a site that is not the business's",
    "contact_data:foreign_email": "gives an e-mail address that is not the business's own",
    "contact_data:foreign_phone": "gives a phone number that is not the business's own",
    "language:wrong_language": "is not in the customer's language",
    "prompt_echo:prompt_echo": "repeats Keel's own instructions",
    "length:too_long": "is too long for the channel",
    "injection:injection_suspected": "answers a message that looks like a prompt injection",
}
_EVIDENCE_KEYS = ("bad", "phrases", "foreign", "deals", "markers")
_EVIDENCE_SHOWN = 5
_LANGUAGE_TAG = re.compile(r"^[a-z]{2}:")


def reason_kind(reason: str) -> str:
    """The family a reason is filtered by: `guardrail` for every guardrail block, the
    reason itself otherwise."""
    return "guardrail" if reason.startswith(GUARDRAIL_PREFIX) else reason


def kind_label(kind: str) -> str:
    """A short name for a reason family, for the queue's filter."""
    if kind == "guardrail":
        return "guardrail block"
    if kind.startswith("intent:"):
        return kind.removeprefix("intent:").replace("_", " ")
    return kind.replace("_", " ")


def explain_reason(reason: str) -> str:
    """Why a message was escalated, in a sentence."""
    if reason.startswith(GUARDRAIL_PREFIX):
        return "The draft was blocked by the guardrails, and again after one redraft."
    if reason.startswith("intent:"):
        intent = reason.removeprefix("intent:")
        spoken = intent.replace("_", " ")
        return _INTENTS.get(intent, f"The policy sends every '{spoken}' message to a person.")
    return _REASONS.get(reason, reason.replace("_", " ").capitalize() + ".")


def explain_violation(violation: Mapping[str, Any]) -> str:
    """One blocked verdict (`{"check", "reason", ...evidence}`) as a sentence about the
    text: what it does wrong and, when recorded, the words that did it."""
    code = f"{violation.get('check')}:{violation.get('reason')}"
    what = _VIOLATIONS.get(code, code.replace("_", " "))
    detail = _detail(code, violation)
    return f"The text {what}{detail}."


def _detail(code: str, violation: Mapping[str, Any]) -> str:
    if code == "length:too_long" and violation.get("max_chars"):
        return f": {violation.get('chars')} characters, at most {violation['max_chars']}"
    if code == "language:wrong_language" and violation.get("expected"):
        return f" ({violation['expected']})"
    for key in _EVIDENCE_KEYS:
        found = violation.get(key)
        if isinstance(found, list) and found:
            items = [_phrase(i) for i in found] if key == "phrases" else found
            shown = ", ".join(_quoted(item) for item in items[:_EVIDENCE_SHOWN])
            more = len(found) - _EVIDENCE_SHOWN
            return f": {shown}" + (f" and {more} more" if more > 0 else "")
    return ""


def _phrase(item: object) -> object:
    """A promise phrase as the policy lists it, without its language (`es:garantizamos`)."""
    if isinstance(item, str) and _LANGUAGE_TAG.match(item):
        return item[3:]
    return item


def _quoted(item: object) -> str:
    if isinstance(item, Mapping):
        item = item.get("text") or item.get("label") or ", ".join(map(str, item.values()))
    return f"“{item}”"
