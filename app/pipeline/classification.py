"""Classifying one text the way the classify step does: the local tier when the policy
configures one, the turn has no earlier turns before it, and the model is sure; else the
policy's classify tier with the production prompt and parser. The classify step and
`keel eval` both call `classify_text`, so an evaluation measures exactly what production
runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from app import prompts
from app.localtier import classify_locally
from app.policy import Policy
from app.prompts import Turn
from app.providers import Attempt, call_tier


@dataclass(frozen=True)
class Classification:
    """An intent, the language the classifier saw (None: unsure) and its confidence,
    with who answered and the model calls it took."""

    intent: str
    language: str | None
    confidence: float
    tier: str  # "local", or the policy's classify tier
    provider: str
    model: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def cost_usd(self) -> Decimal:
        return sum((a.cost_usd for a in self.attempts), Decimal(0))

    @property
    def answered_tier(self) -> str:
        """The tier whose model answered (a borrowed neighbour tier included)."""
        return self.attempts[-1].tier if self.attempts else self.tier

    def source(self) -> dict[str, str]:
        """Who answered, as the `classified` audit event records it."""
        found = {"tier": self.tier, "provider": self.provider, "model": self.model}
        return found | {"cost_usd": "0"} if self.tier == "local" else found


def classify_text(
    text: str,
    *,
    policy: Policy,
    message_id: str,
    use_local: bool = True,
    history: Sequence[Turn] = (),
) -> Classification:
    """Classify `text` (its model calls carry `message_id`).

    Raises:
        TierCallFailed: every model of the classify tier failed.
    """
    # The local model reads one turn on its own, and was trained and measured on such
    # turns: a follow-up ("¿y en reales?", "sí, esa") means what the conversation says it
    # means, so with earlier turns the classify tier's model, which sees them, decides.
    local = classify_locally(policy=policy, text=text) if use_local and not history else None
    if local is not None:
        return Classification(
            intent=local.intent,
            language=None,
            confidence=local.confidence,
            tier="local",
            provider="local",
            model=local.model_name,
        )
    tier = policy.routing.classify_tier
    result = call_tier(
        policy=policy,
        tier=tier,
        prompt=prompts.classify_prompt(policy=policy, text=text, history=history),
        task="classify",
        message_id=message_id,
        parse=lambda raw: prompts.parse_classification(raw, intents=policy.routing.intents),
    )
    intent, language, confidence = result.value
    return Classification(
        intent=intent,
        language=language,
        confidence=confidence,
        tier=tier,
        provider=result.provider,
        model=result.model,
        attempts=result.attempts,
    )
