"""Every output check on a drafted reply, in the order the audit records them."""

from __future__ import annotations

from app.guardrails.contact import check_contact_data
from app.guardrails.echo import check_echo
from app.guardrails.language import check_language
from app.guardrails.length import check_length
from app.guardrails.links import check_links
from app.guardrails.offers import check_offers
from app.guardrails.prices import check_prices
from app.guardrails.promises import check_promises
from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECKS = (
    "prices",
    "offers",
    "promises",
    "links",
    "contact_data",
    "language",
    "prompt_echo",
    "length",
)


# A text this much longer than its channel allows is blocked by its length alone: the
# other checks are not run on it (a reviewer's 8,000-character edit must not stall the
# API; every check is linear, but need not read what can never be sent).
OVERSIZE_FACTOR = 2


def check_draft(text: str, *, policy: Policy, channel: str, language: str | None) -> list[Verdict]:
    """Run every output check on `text`; `language` is the customer's (None: not judged).
    The length is checked first: a text far over its channel's limit gets that verdict
    only."""
    length = check_length(text, policy=policy, channel=channel)
    max_chars = policy.guardrails.reply_max_chars.get(channel)
    if not length.passed and max_chars is not None and len(text) > OVERSIZE_FACTOR * max_chars:
        return [length]
    return [
        check_prices(text, policy=policy),
        check_offers(text, policy=policy),
        check_promises(text, policy=policy, language=language),
        check_links(text, policy=policy),
        check_contact_data(text, policy=policy),
        check_language(text, policy=policy, language=language),
        check_echo(text, policy=policy),
        length,
    ]
