"""Cost arithmetic against hand-computed figures from the policy's published prices."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from app.policy import load_policy
from app.policy.models import ModelRef
from app.reporting import counterfactual
from app.reporting.queries import CallGroup
from app.reporting.savings import SOURCES, _Fates


def test_a_haiku_call_costs_its_tokens_at_one_and_five_dollars_per_million() -> None:
    policy = load_policy(None)
    price = policy.price_of(ModelRef.parse("anthropic:claude-haiku-4-5"))
    # 1,234 x $1 + 567 x $5 = $4,069 per million calls' worth = $0.004069
    assert price.cost_usd(1234, 567) == Decimal("0.004069")


def test_cache_writes_and_reads_are_priced_at_their_own_rates() -> None:
    policy = load_policy(None)
    sonnet = policy.price_of(ModelRef.parse("anthropic:claude-sonnet-4-6"))
    # 3,000 prompt tokens, 2,600 of them read from the cache: 400 x $3 + 2,600 x $0.30
    # + 100 x $15 = 1,200 + 780 + 1,500 = 3,480 -> $0.00348
    assert sonnet.cost_usd(3000, 100, cache_read_tokens=2600) == Decimal("0.00348")
    # written instead: 400 x 3 + 2,600 x 3.75 + 100 x 15 = 1,200 + 9,750 + 1,500
    assert sonnet.cost_usd(3000, 100, cache_write_tokens=2600) == Decimal("0.01245")
    # OpenAI bills no write premium: a write is an ordinary input token
    mini = policy.price_of(ModelRef.parse("openai:gpt-5-mini"))
    assert mini.cost_usd(3000, 100, cache_write_tokens=2600) == mini.cost_usd(3000, 100)
    assert mini.cost_usd(3000, 100, cache_read_tokens=2560) < mini.cost_usd(3000, 100)


def _group(task: str, model: str, tokens_in: int, tokens_out: int, **kw: int) -> CallGroup:
    policy = load_policy(None)
    provider, _, name = model.partition(":")
    cost = policy.price_of(ModelRef.parse(model)).cost_usd(tokens_in, tokens_out, **kw)
    return CallGroup(task, "x", provider, name, "ok", 1, tokens_in, tokens_out, cost, **kw)


def test_the_all_standard_counterfactual_reprices_every_call_and_adds_the_calls_not_made() -> None:
    policy = load_policy(None)
    calls = [
        _group("classify", "anthropic:claude-haiku-4-5", 1000, 40),
        _group("draft", "anthropic:claude-sonnet-4-6", 3000, 100, cache_read_tokens=2600),
    ]
    fates = _Fates(
        avoided_classify=Counter({"local_tier": 2}), avoided_draft=Counter({"no_reply": 1})
    )
    cf = counterfactual(policy, tier="standard", calls=calls, fates=fates)

    # At Sonnet ($3 / $15), no cache: classify 1,000 x 3 + 40 x 15 = 3,600 -> $0.0036;
    # draft 3,000 x 3 + 100 x 15 = 10,500 -> $0.0105
    classify, draft = Decimal("0.0036"), Decimal("0.0105")
    assert cf.model == "anthropic:claude-sonnet-4-6"
    assert cf.by_source["local_tier"] == 2 * classify
    assert cf.by_source["no_reply"] == draft
    assert cf.by_source["tiering"] == classify - calls[0].cost_usd  # Haiku instead
    assert cf.by_source["caching"] == draft - calls[1].cost_usd
    assert cf.cost_usd == 3 * classify + 2 * draft
    assert cf.actual_usd == calls[0].cost_usd + calls[1].cost_usd
    assert cf.savings_usd == sum(cf.by_source.values(), Decimal(0))
    assert set(cf.by_source) == set(SOURCES)
    assert cf.savings_ratio is not None and 0.5 < cf.savings_ratio < 1
