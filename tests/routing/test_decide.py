"""Routing decisions over the bundled policy: plain functions, no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.policy import Policy, load_policy
from app.routing import decide, tier_up

POLICY: Policy = load_policy(None)
R = POLICY.routing


def test_an_escalate_intent_escalates_however_sure_the_classifier_is() -> None:
    intent = R.escalate_intents[0]
    assert decide(policy=POLICY, intent=intent, confidence=1.0).action == "escalate"


def test_low_confidence_escalates_before_anything_else_but_an_escalate_intent() -> None:
    low = R.escalate_below_confidence - 0.01
    decision = decide(policy=POLICY, intent=R.no_reply_intents[0], confidence=low)
    assert (decision.action, decision.reason) == ("escalate", "low_confidence")


def test_a_no_reply_intent_gets_no_reply() -> None:
    decision = decide(policy=POLICY, intent=R.no_reply_intents[0], confidence=0.99)
    assert decision.action == "no_reply"


def test_a_flagship_intent_drafts_on_the_flagship() -> None:
    decision = decide(policy=POLICY, intent=R.flagship_intents[0], confidence=0.99)
    assert (decision.action, decision.tier) == ("draft", "flagship")


def test_mid_confidence_drafts_on_the_flagship() -> None:
    ordinary = next(
        i
        for i in R.intents
        if i not in {*R.escalate_intents, *R.no_reply_intents, *R.flagship_intents}
    )
    mid = (R.escalate_below_confidence + R.flagship_below_confidence) / 2
    assert decide(policy=POLICY, intent=ordinary, confidence=mid).reason == "mid_confidence"
    sure = decide(policy=POLICY, intent=ordinary, confidence=0.99)
    assert (sure.action, sure.tier) == ("draft", R.draft_tier)


@given(intent=st.sampled_from(R.intents), confidence=st.floats(0.0, 1.0))
def test_every_decision_is_one_of_three_and_only_a_draft_has_a_tier(
    intent: str, confidence: float
) -> None:
    decision = decide(policy=POLICY, intent=intent, confidence=confidence)
    assert decision.action in ("draft", "escalate", "no_reply")
    assert (decision.tier is not None) == (decision.action == "draft")


@pytest.mark.parametrize(
    ("tier", "up"),
    [("fast", "standard"), ("standard", "flagship"), ("flagship", "flagship")],
)
def test_a_redraft_goes_one_tier_up_and_the_flagship_stays(tier: str, up: str) -> None:
    assert tier_up(tier, policy=POLICY) == up


def test_a_message_without_a_tier_goes_up_from_the_draft_tier() -> None:
    assert tier_up(None, policy=POLICY) == tier_up(R.draft_tier, policy=POLICY)
    assert tier_up("local", policy=POLICY) == tier_up(R.draft_tier, policy=POLICY)
