"""Tiered routing: which tier does each task, and what happens after classification.

Pure decisions over the policy and a classification; no I/O. The fast tier
classifies, the standard tier drafts, the flagship takes the policy's hard
intents and the classifications too uncertain to trust a cheaper draft; a policy
can name the tier that drafts an intent (`routing.draft_tiers`: routine intents on
the fast tier, as the seed's Haiku drafts schedule and course questions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from app.policy import Policy, TierName
from app.policy.models import TIER_ORDER


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
    tier = routing.draft_tiers.get(intent)
    if tier is not None:
        return Decision("draft", tier=tier, reason=f"intent:{intent}")
    return Decision("draft", tier=routing.draft_tier)


def tier_up(tier: str | None, *, policy: Policy) -> TierName:
    """The next tier up for a redraft: fast -> standard -> flagship -> flagship (a
    message with no tier starts from the policy's draft tier)."""
    current = cast(TierName, tier if tier in TIER_ORDER else policy.routing.draft_tier)
    return TIER_ORDER[min(TIER_ORDER.index(current) + 1, len(TIER_ORDER) - 1)]
