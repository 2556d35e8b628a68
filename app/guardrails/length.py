"""Check that a draft fits the channel's maximum reply length."""

from __future__ import annotations

from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "length"


def check_length(text: str, *, policy: Policy, channel: str) -> Verdict:
    """Fail with `too_long` past `reply_max_chars[channel]`; a channel without a limit passes."""
    max_chars = policy.guardrails.reply_max_chars.get(channel)
    chars = len(text)
    detail: dict[str, object] = {"channel": channel, "chars": chars, "max_chars": max_chars}
    if max_chars is not None and chars > max_chars:
        return Verdict(check=CHECK, passed=False, reason="too_long", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
