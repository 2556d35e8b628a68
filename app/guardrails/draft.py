"""Every output check on a drafted reply, in the order the audit records them."""

from __future__ import annotations

from app.guardrails.length import check_length
from app.guardrails.prices import check_prices
from app.guardrails.verdict import Verdict
from app.policy.models import Policy


def check_draft(text: str, *, policy: Policy, channel: str, language: str | None) -> list[Verdict]:
    """Run every output check on `text`; `language` is for the language-specific checks."""
    return [
        check_prices(text, policy=policy),
        check_length(text, policy=policy, channel=channel),
    ]
