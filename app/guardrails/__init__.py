"""Guardrails: deterministic, policy-driven checks on a drafted reply, in milliseconds.

Owns every decision about whether a draft may leave (SPEC 3, invariant 4, and the
`guardrails` section of the policy, SPEC 8): that each amount of money it quotes is a
catalog price in that currency, that it fits the channel's length limit, and whether
the contact's local time is inside the send window (which delays a reply rather than
blocking it). Checks are plain functions over a `Policy` and text, returning
`Verdict`s; no model calls, no I/O.
"""

from app.guardrails.draft import check_draft
from app.guardrails.length import check_length
from app.guardrails.prices import check_prices
from app.guardrails.verdict import Verdict, blocked
from app.guardrails.window import send_window_verdict

__all__ = [
    "Verdict",
    "blocked",
    "check_draft",
    "check_length",
    "check_prices",
    "send_window_verdict",
]
