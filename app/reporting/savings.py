"""What Keel's routing saved, against a system that sends every message to one tier.

The counterfactual is the naive one the seed compares with: every message classified
and drafted by one model (the standard tier's first model for "all-standard", the
seed's all-Sonnet; the flagship's for "all-flagship"), with no prompt cache. Its cost is
Keel's own calls repriced at that model with no cache discount, plus the calls Keel did
not make, each priced as an average call of its task that Keel did make (a classification
the local tier answered, a draft for a message that needed none). The difference splits
exactly into sources:

- `local_tier`: classifications the local model answered for free;
- `tiering`: the calls Keel made, at the models it chose instead of the counterfactual's;
- `caching`: prompt-cache reads (less cache-write premiums) on those calls;
- `no_reply`: drafts not written for no-reply intents (thanks, spam);
- `coalescing`: classifications and drafts not made for a burst's earlier messages
  (coalesced into one answer) and replies withdrawn for a newer message (superseded);
- `opt_out`: messages of contacts who asked not to be written to;
- `escalated_before_draft`: messages a person answers instead (refunds, low confidence,
  injection, handoff): not money saved so much as work moved, so shown apart;
- `unfinished`: messages still in flight or dead-lettered.

Per draft tier: its share of drafts, its guardrail block rate (drafts blocked and
redrafted, or escalated as `guardrail:...`), and its escalation rate (messages whose last
draft it wrote that ended with a person), so a cheaper tier that writes worse replies
shows up.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from app.db.models import AuditEvent, Message
from app.policy import Policy
from app.policy.models import TIER_ORDER, ModelPrice
from app.reporting.queries import CallGroup, detail_text

SOURCES = (
    "local_tier",
    "tiering",
    "caching",
    "no_reply",
    "coalescing",
    "opt_out",
    "escalated_before_draft",
    "unfinished",
)
_ZERO = Decimal(0)


@dataclass
class Counterfactual:
    """Keel's cost against every message on one model, and where the difference went."""

    tier: str
    model: str
    cost_usd: Decimal = _ZERO
    actual_usd: Decimal = _ZERO
    by_source: dict[str, Decimal] = field(default_factory=dict)

    @property
    def savings_usd(self) -> Decimal:
        return self.cost_usd - self.actual_usd

    @property
    def savings_ratio(self) -> float | None:
        return float(self.savings_usd / self.cost_usd) if self.cost_usd > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "model": self.model,
            "cost_usd": str(self.cost_usd),
            "savings_usd": str(self.savings_usd),
            "savings_ratio": self.savings_ratio,
            "savings_by_source_usd": {k: str(v) for k, v in self.by_source.items()},
        }


@dataclass
class TierQuality:
    """One draft tier's share of the drafts and how its drafts fared."""

    drafts: int = 0
    share: float = 0.0
    blocked: int = 0
    messages: int = 0
    escalated: int = 0

    @property
    def block_rate(self) -> float | None:
        return self.blocked / self.drafts if self.drafts else None

    @property
    def escalation_rate(self) -> float | None:
        return self.escalated / self.messages if self.messages else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "drafts": self.drafts,
            "share_of_drafts": round(self.share, 4),
            "blocked": self.blocked,
            "block_rate": self.block_rate,
            "messages": self.messages,
            "escalated": self.escalated,
            "escalation_rate": self.escalation_rate,
        }


@dataclass(frozen=True)
class _Fates:
    """Per avoided call, the source it counts under: (classify, draft) -> messages."""

    avoided_classify: Counter[str]
    avoided_draft: Counter[str]


def _exists(action: str, *conditions: Any) -> Any:
    return sa.exists().where(
        col(AuditEvent.message_id) == col(Message.id),
        col(AuditEvent.action) == action,
        *conditions,
    )


def _source_of(state: str, reason: str | None, *, escalated: bool, opted_out: bool) -> str:
    """The source a message's avoided calls count under."""
    if opted_out or reason == "opted_out":
        return "opt_out"
    if reason in ("coalesced", "superseded"):
        return "coalescing"
    if state == "no_reply":
        return "no_reply"
    if escalated:
        return "escalated_before_draft"
    return "unfinished"


def message_fates(session: Session, since: dt.datetime | None) -> _Fates:
    """Which messages Keel classified or drafted without a model call, or not at all."""
    flags = (
        _exists("classified", detail_text("tier") == "local"),
        _exists(
            "model_call",
            detail_text("keel.task") == "classify",
            detail_text("keel.status") == "ok",
        ),
        _exists("drafted"),
        _exists("escalated"),
        _exists("opted_out"),
    )
    keys = (col(Message.state), col(Message.reason), *flags)
    query = sa.select(*keys, sa.func.count()).group_by(*keys)
    if since is not None:
        query = query.where(col(Message.created_at) >= since)
    classify: Counter[str] = Counter()
    draft: Counter[str] = Counter()
    for state, reason, local, by_model, drafted, escalated, opted, n in session.execute(
        query
    ).all():
        source = _source_of(str(state), reason, escalated=bool(escalated), opted_out=bool(opted))
        if not by_model:
            classify["local_tier" if local else source] += int(n)
        if not drafted:
            draft[source] += int(n)
    return _Fates(classify, draft)


def _average(calls: list[CallGroup], task: str) -> tuple[float, float]:
    done = [c for c in calls if c.task == task and c.status == "ok"]
    n = sum(c.calls for c in done)
    if not n:
        return 0.0, 0.0
    return sum(c.input_tokens for c in done) / n, sum(c.output_tokens for c in done) / n


def _price(price: ModelPrice, tokens_in: float, tokens_out: float) -> Decimal:
    return price.cost_usd(round(tokens_in), round(tokens_out))


def counterfactual(
    policy: Policy, *, tier: str, calls: list[CallGroup], fates: _Fates
) -> Counterfactual:
    """Every message on `tier`'s first model, no cache; `calls`: Keel's own."""
    ref = policy.tiers[tier].chain[0]  # type: ignore[index]
    there = policy.price_of(ref)
    out = Counterfactual(tier=tier, model=ref.key)
    sources = dict.fromkeys(SOURCES, _ZERO)
    for c in calls:
        price = policy.prices.get(f"{c.provider}:{c.model}")
        uncached = price.cost_usd(c.input_tokens, c.output_tokens) if price else c.cost_usd
        sources["tiering"] += there.cost_usd(c.input_tokens, c.output_tokens) - uncached
        sources["caching"] += uncached - c.cost_usd
        out.actual_usd += c.cost_usd
    for task, avoided in (("classify", fates.avoided_classify), ("draft", fates.avoided_draft)):
        one = _price(there, *_average(calls, task))
        for source, n in avoided.items():
            sources[source] += one * n
    out.by_source = sources
    out.cost_usd = out.actual_usd + sum(sources.values(), _ZERO)
    return out


def tier_quality(session: Session, since: dt.datetime | None) -> dict[str, TierQuality]:
    """Per draft tier: drafts, blocks and escalations (see the module's docstring)."""

    def counts(query: Any, *, events: bool) -> dict[str, int]:
        if since is not None:
            column = col(AuditEvent.at) if events else col(Message.created_at)
            query = query.where(column >= since)
        return {str(k): int(n) for k, n in session.execute(query).all() if k is not None}

    tier_of_draft = detail_text("tier")
    drafts = counts(
        sa.select(tier_of_draft, sa.func.count())
        .where(col(AuditEvent.action) == "drafted")
        .group_by(tier_of_draft),
        events=True,
    )
    from_tier = detail_text("from_tier")
    redrafts = counts(
        sa.select(from_tier, sa.func.count())
        .where(col(AuditEvent.action) == "redraft")
        .group_by(from_tier),
        events=True,
    )
    tier = col(Message.tier)
    blocked_escalations = counts(
        sa.select(tier, sa.func.count())
        .where(col(Message.escalation_reason).like("guardrail:%"))
        .group_by(tier),
        events=False,
    )
    routed = counts(
        sa.select(tier, sa.func.count()).where(_exists("drafted")).group_by(tier), events=False
    )
    escalated = counts(
        sa.select(tier, sa.func.count())
        .where(col(Message.state) == "escalated", _exists("drafted"))
        .group_by(tier),
        events=False,
    )
    total = sum(drafts.values())
    out: dict[str, TierQuality] = {}
    for name in TIER_ORDER:
        if not drafts.get(name) and not routed.get(name):
            continue
        out[name] = TierQuality(
            drafts=drafts.get(name, 0),
            share=drafts.get(name, 0) / total if total else 0.0,
            blocked=redrafts.get(name, 0) + blocked_escalations.get(name, 0),
            messages=routed.get(name, 0),
            escalated=escalated.get(name, 0),
        )
    return out
