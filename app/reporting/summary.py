"""One pass over messages and audit events, computed in SQL where it is cheap."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.db.models import AuditEvent, DeadLetter, Message
from app.policy import Policy
from app.reporting.stats import percentile


@dataclass
class Summary:
    messages: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_tier: dict[str, int] = field(default_factory=dict)
    by_intent: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    guardrail_blocks: dict[str, int] = field(default_factory=dict)
    model_calls: dict[str, int] = field(default_factory=dict)
    failovers: int = 0
    parked: int = 0
    unparked: int = 0
    sent: int = 0
    cost_usd: Decimal = Decimal(0)
    flagship_cost_usd: Decimal = Decimal(0)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None

    @property
    def savings_ratio(self) -> float | None:
        if self.flagship_cost_usd <= 0:
            return None
        return float(1 - self.cost_usd / self.flagship_cost_usd)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()}
        out["cost_usd"] = str(self.cost_usd)
        out["flagship_cost_usd"] = str(self.flagship_cost_usd)
        out["savings_ratio"] = self.savings_ratio
        return out


def _counts(session: Session, column: Any) -> dict[str, int]:
    rows = session.exec(select(column, sa.func.count()).group_by(column)).all()
    return {str(k): int(n) for k, n in rows if k is not None}


def summarize(session: Session, *, policy: Policy, since: dt.datetime | None = None) -> Summary:
    """Everything `keel report` and the demo print."""
    s = Summary()
    s.by_state = _counts(session, Message.state)
    s.messages = sum(s.by_state.values())
    s.by_tier = _counts(session, Message.tier)
    s.by_intent = _counts(session, Message.intent)
    s.by_language = _counts(session, Message.language)
    s.sent = s.by_state.get("sent", 0)
    s.dead_letters = _counts(session, DeadLetter.reason)
    flagship = policy.tiers["flagship"].chain[0]
    flagship_price = policy.price_of(flagship)
    query = select(AuditEvent).where(
        col(AuditEvent.action).in_(
            ["model_call", "failover", "guardrail", "escalated", "parked", "unparked"]
        )
    )
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    escalations: Counter[str] = Counter()
    blocks: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for event in session.exec(query):
        d = event.detail
        if event.action == "model_call":
            calls[
                f"{d.get('keel.tier')}:{d.get('gen_ai.provider.name')}:{d.get('keel.status')}"
            ] += 1
            s.cost_usd += Decimal(str(d.get("keel.cost_usd", "0")))
            s.flagship_cost_usd += flagship_price.cost_usd(
                int(d.get("gen_ai.usage.input_tokens", 0)),
                int(d.get("gen_ai.usage.output_tokens", 0)),
            )
        elif event.action == "failover":
            s.failovers += 1
        elif (
            event.action == "guardrail"
            and d.get("passed") is False
            and d.get("check") != "send_window"
        ):
            blocks[f"{d.get('check')}:{d.get('reason')}"] += 1
        elif event.action == "escalated":
            escalations[str(d.get("reason"))] += 1
        elif event.action == "parked":
            s.parked += 1
        elif event.action == "unparked":
            s.unparked += 1
    s.escalations = dict(escalations)
    s.guardrail_blocks = dict(blocks)
    s.model_calls = dict(calls)
    finished = session.exec(
        select(Message.created_at, Message.updated_at).where(
            col(Message.state).in_(["sent", "no_reply", "escalated", "dead", "scheduled"])
        )
    ).all()
    latencies = [(u - c).total_seconds() for c, u in finished]
    s.latency_p50_s = percentile(latencies, 0.5)
    s.latency_p95_s = percentile(latencies, 0.95)
    return s
