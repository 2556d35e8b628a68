"""Cost arithmetic against hand-computed figures from the policy's published prices."""

from __future__ import annotations

from decimal import Decimal

from app.policy import load_policy
from app.policy.models import ModelRef
from app.reporting import flagship_cost


def test_a_haiku_call_costs_its_tokens_at_one_and_five_dollars_per_million() -> None:
    policy = load_policy(None)
    price = policy.price_of(ModelRef.parse("anthropic:claude-haiku-4-5"))
    # 1,234 x $1 + 567 x $5 = $4,069 per million calls' worth = $0.004069
    assert price.cost_usd(1234, 567) == Decimal("0.004069")


def test_the_counterfactual_prices_the_same_tokens_at_the_flagship_first_model() -> None:
    policy = load_policy(None)
    assert policy.tiers["flagship"].chain[0].key == "anthropic:claude-opus-4-6"
    # Opus at $5 / $25: 1,234 x 5 + 567 x 25 = 6,170 + 14,175 = 20,345 -> $0.020345
    assert flagship_cost(policy, 1234, 567) == Decimal("0.020345")


def test_an_openai_call_is_still_priced_at_the_flagship_first_model_in_the_counterfactual() -> None:
    policy = load_policy(None)
    nano = policy.price_of(ModelRef.parse("openai:gpt-5-nano"))
    # gpt-5-nano at $0.05 / $0.40: 2,000 x 0.05 + 300 x 0.40 = 100 + 120 = 220 -> $0.00022
    assert nano.cost_usd(2000, 300) == Decimal("0.00022")
    # the same tokens on Opus: 2,000 x 5 + 300 x 25 = 10,000 + 7,500 -> $0.0175
    assert flagship_cost(policy, 2000, 300) == Decimal("0.0175")
