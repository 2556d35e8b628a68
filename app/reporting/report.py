"""`keel report`: counts, cost against the all-standard and all-flagship counterfactuals,
latency, conversations and conversions.

Counts come from GROUP BY queries over messages and audit events; cost and tokens are
summed per model in SQL. The counterfactuals (`app.reporting.savings`) price every
message on one model, with the calls Keel did not make, and split the difference by
source (local tier, tiering, caching, no-reply, coalescing...). Latency percentiles are
streamed. The conversation figures (SPEC 11)
read the reasons of `no_reply` and `escalated` events (`coalesced`, `superseded`,
`opted_out`, `handoff`, `reply_window_closed`), the `handoff` and `opted_out` actions and
the contacts opted out. Conversions (SPEC 12) come from `app.reporting.conversions`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col

from app.db.models import Message
from app.policy import Policy
from app.reporting.conversions import Conversions, conversion_figures
from app.reporting.latency import Latency, model_call_latency_ms, step_latency_s
from app.reporting.queries import (
    CallGroup,
    action_counts,
    detail_counts,
    message_counts,
    model_call_groups,
    opted_out_contacts,
)
from app.reporting.savings import (
    Counterfactual,
    TierQuality,
    counterfactual,
    message_fates,
    tier_quality,
)

# A send-window verdict that fails defers the reply (scheduled); it blocks nothing.
NOT_A_BLOCK = frozenset({"send_window"})


@dataclass
class Report:
    since: dt.datetime | None
    messages: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_tier: dict[str, int] = field(default_factory=dict)
    by_intent: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    classified_by: dict[str, int] = field(default_factory=dict)
    calls_by_provider: dict[str, int] = field(default_factory=dict)
    calls: list[CallGroup] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    # messages ended without a reply, by reason (SPEC 11: coalesced, superseded, opted_out)
    no_replies: dict[str, int] = field(default_factory=dict)
    contacts_opted_out: int = 0
    guardrail_hits: dict[str, int] = field(default_factory=dict)
    failovers: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    flagship_model: str = ""
    flagship_cost_usd: Decimal = Decimal(0)
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    # every message on one model: "standard" (the seed's all-Sonnet) and "flagship"
    counterfactuals: dict[str, Counterfactual] = field(default_factory=dict)
    tiers: dict[str, TierQuality] = field(default_factory=dict)
    model_latency_ms: dict[str, Latency] = field(default_factory=dict)
    step_latency_s: dict[str, Latency] = field(default_factory=dict)
    conversions: Conversions = field(default_factory=Conversions)

    @property
    def savings_usd(self) -> Decimal:
        return self.flagship_cost_usd - self.cost_usd

    @property
    def savings_ratio(self) -> float | None:
        if self.flagship_cost_usd <= 0:
            return None
        return float(self.savings_usd / self.flagship_cost_usd)

    @property
    def failover_total(self) -> int:
        return sum(self.failovers.values())

    @property
    def coalesced(self) -> int:
        """Messages of a burst answered by the reply to a later one."""
        return self.no_replies.get("coalesced", 0)

    @property
    def superseded(self) -> int:
        """Drafted replies withdrawn unsent because a newer message answers the turn."""
        return self.no_replies.get("superseded", 0)

    @property
    def opt_outs(self) -> int:
        """Messages that asked to stop receiving messages (`opted_out` events)."""
        return self.actions.get("opted_out", 0)

    @property
    def opted_out_messages(self) -> int:
        """Messages withdrawn or left unanswered because their contact opted out."""
        return self.no_replies.get("opted_out", 0)

    @property
    def handoffs(self) -> int:
        """Times a person took a conversation over (`handoff` events)."""
        return self.actions.get("handoff", 0)

    @property
    def handoff_escalations(self) -> int:
        """Messages escalated because a person had the conversation."""
        return self.escalations.get("handoff", 0)

    @property
    def reply_windows_closed(self) -> int:
        """Replies escalated because the channel's reply window had closed."""
        return self.escalations.get("reply_window_closed", 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "messages": self.messages,
            "by_state": self.by_state,
            "by_tier": self.by_tier,
            "by_intent": self.by_intent,
            "by_language": self.by_language,
            "classified_by": self.classified_by,
            "calls_by_provider": self.calls_by_provider,
            "model_calls": [{**c.__dict__, "cost_usd": str(c.cost_usd)} for c in self.calls],
            "actions": self.actions,
            "escalations": self.escalations,
            "dead_letters": self.dead_letters,
            "no_replies": self.no_replies,
            "conversations": {
                "coalesced": self.coalesced,
                "superseded": self.superseded,
                "opt_outs": self.opt_outs,
                "contacts_opted_out": self.contacts_opted_out,
                "opted_out_messages": self.opted_out_messages,
                "handoffs": self.handoffs,
                "handoff_escalations": self.handoff_escalations,
                "reply_windows_closed": self.reply_windows_closed,
            },
            "guardrail_hits": self.guardrail_hits,
            "failovers": self.failover_total,
            "failover_routes": self.failovers,
            "parked": self.actions.get("parked", 0),
            "unparked": self.actions.get("unparked", 0),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": str(self.cost_usd),
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "flagship_model": self.flagship_model,
            "flagship_cost_usd": str(self.flagship_cost_usd),
            "savings_usd": str(self.savings_usd),
            "savings_ratio": self.savings_ratio,
            "counterfactuals": {k: v.as_dict() for k, v in self.counterfactuals.items()},
            "tiers": {k: v.as_dict() for k, v in self.tiers.items()},
            "latency_ms_by_task": {k: v.as_dict() for k, v in self.model_latency_ms.items()},
            "latency_s_by_step": {k: v.as_dict() for k, v in self.step_latency_s.items()},
            "conversions": self.conversions.as_dict(),
        }


def _flat(counts: dict[tuple[str | None, ...], int], sep: str = ":") -> dict[str, int]:
    out: Counter[str] = Counter()
    for key, n in counts.items():
        out[sep.join(str(k) for k in key)] += n
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def build_report(session: Session, *, policy: Policy, since: dt.datetime | None = None) -> Report:
    """Every figure of `keel report`, over messages created, events recorded and outcomes
    recorded since `since`."""
    r = Report(since=since)
    r.by_state = message_counts(session, col(Message.state), since)
    r.messages = sum(r.by_state.values())
    r.by_tier = message_counts(session, col(Message.tier), since)
    r.by_intent = message_counts(session, col(Message.intent), since)
    r.by_language = message_counts(session, col(Message.language), since)
    r.actions = action_counts(session, since)
    r.classified_by = _flat(detail_counts(session, "classified", ("tier",), since))
    r.escalations = _flat(detail_counts(session, "escalated", ("reason",), since))
    r.dead_letters = _flat(detail_counts(session, "dead_lettered", ("reason",), since))
    r.no_replies = _flat(detail_counts(session, "no_reply", ("reason",), since))
    r.contacts_opted_out = opted_out_contacts(session, since)
    r.failovers = _flat(detail_counts(session, "failover", ("from", "to"), since), sep=" -> ")
    hits = detail_counts(session, "guardrail", ("check", "reason", "passed"), since)
    r.guardrail_hits = _flat(
        {
            (check, reason): n
            for (check, reason, passed), n in hits.items()
            if passed in ("false", "0") and check not in NOT_A_BLOCK
        }
    )
    r.calls = model_call_groups(session, since)
    providers: Counter[str] = Counter()
    for c in r.calls:
        providers[c.provider] += c.calls
        r.input_tokens += c.input_tokens
        r.output_tokens += c.output_tokens
        r.cost_usd += c.cost_usd
        r.cache_write_tokens += c.cache_write_tokens
        r.cache_read_tokens += c.cache_read_tokens
    r.calls_by_provider = dict(providers)
    fates = message_fates(session, since)
    for tier in ("standard", "flagship"):
        r.counterfactuals[tier] = counterfactual(policy, tier=tier, calls=r.calls, fates=fates)
    r.flagship_model = r.counterfactuals["flagship"].model
    r.flagship_cost_usd = r.counterfactuals["flagship"].cost_usd
    r.tiers = tier_quality(session, since)
    r.model_latency_ms = model_call_latency_ms(session, since)
    r.step_latency_s = step_latency_s(session, since)
    r.conversions = conversion_figures(
        session, policy=policy, since=since, overall_cost_usd=r.cost_usd
    )
    return r
