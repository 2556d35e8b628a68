"""Tiered routing: which tier does each task, and what happens after classification.

Pure decisions over the policy and a classification; no I/O. The fast tier
classifies, the standard tier drafts, the flagship takes the policy's hard
intents and the classifications too uncertain to trust a cheaper draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.policy import Policy, TierName


@dataclass(frozen=True)
class Decision:
    """What to do with a classified message."""

    action: Literal["draft", "escalate", "no_reply"]
    tier: TierName | None = None
    reason: str | None = None


def decide(*, policy: Policy, intent: str, confidence: float) -> Decision:
    """Route a classified message: no reply, escalate to a human, or draft at a tier."""
    routing = policy.routing
    if intent in routing.escalate_intents:
        return Decision("escalate", reason=f"intent:{intent}")
    if confidence < routing.escalate_below_confidence:
        return Decision("escalate", reason="low_confidence")
    if intent in routing.no_reply_intents:
        return Decision("no_reply", reason=f"intent:{intent}")
    if intent in routing.flagship_intents:
        return Decision("draft", tier="flagship", reason=f"intent:{intent}")
    if confidence < routing.flagship_below_confidence:
        return Decision("draft", tier="flagship", reason="mid_confidence")
    return Decision("draft", tier=routing.draft_tier)
