"""Conversions (SPEC 12): the outcomes that sold, what they sold, who answered, and the
model cost per conversion.

A conversion is an outcome whose kind is one of the policy's `[outcomes] kinds` other than
`lost` (an outcome saying the conversation did not sell); kinds no longer in the policy
are not counted. Each conversion is credited to the message that carried its
conversation's reply: the conversation's most recent message that was sent, among those
received before the outcome was recorded (its most recent message when none was sent).
That message gives the tier, intent and language; who answered is `human` when a person
wrote or edited its reply, else the tier that drafted it, and `none` when no reply was
sent. How many of those messages the local tier classified is counted apart
(`classified_locally`): the local tier classifies, it never drafts.

The cost per conversion divides the model cost of every message of the converted
conversations by the number of conversions; the overall figure divides the report's whole
model cost. `since` counts outcomes recorded since then.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.db.models import AuditEvent, Message, MessageState, Outcome
from app.policy import Policy
from app.reporting.queries import detail_text

# Outcome kinds that say the conversation did not sell.
NOT_CONVERTING = frozenset({"lost"})
HUMAN = "human"
NONE = "none"
_COST_PLACES = Decimal("0.00000001")


def converting_kinds(policy: Policy) -> tuple[str, ...]:
    """The policy's outcome kinds that count as conversions: all of them but `lost`."""
    return tuple(k for k in policy.outcomes.kinds if k not in NOT_CONVERTING)


def who_answered(*, state: str | None, tier: str | None, reply_provider: str | None) -> str:
    """`human` when a person wrote or edited the reply, else the drafting tier; `none`
    when no reply went out."""
    if reply_provider == HUMAN:
        return HUMAN
    if state != MessageState.sent:
        return NONE
    return tier or NONE


@dataclass
class Tally:
    """Conversions of one group: how many, and their value per currency."""

    count: int = 0
    value: dict[str, Decimal] = field(default_factory=dict)

    def add(self, value: Decimal | None, currency: str | None) -> None:
        self.count += 1
        if value is not None and currency is not None:
            self.value[currency] = self.value.get(currency, Decimal(0)) + value

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "value": {c: str(v) for c, v in sorted(self.value.items())}}


def _per_conversion(cost: Decimal, count: int) -> Decimal | None:
    return (cost / count).quantize(_COST_PLACES) if count else None


def _tallies(groups: dict[str, Tally]) -> dict[str, dict[str, Any]]:
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1].count, kv[0]))
    return {key: tally.as_dict() for key, tally in ordered}


@dataclass
class Conversions:
    """Every conversion figure of `keel report`."""

    kinds: tuple[str, ...] = ()
    total: Tally = field(default_factory=Tally)
    by_kind: dict[str, Tally] = field(default_factory=dict)
    by_tier: dict[str, Tally] = field(default_factory=dict)
    by_intent: dict[str, Tally] = field(default_factory=dict)
    by_language: dict[str, Tally] = field(default_factory=dict)
    by_answerer: dict[str, Tally] = field(default_factory=dict)
    classified_locally: int = 0
    not_converted: int = 0
    conversations: int = 0
    conversations_cost_usd: Decimal = Decimal(0)
    overall_cost_usd: Decimal = Decimal(0)

    @property
    def count(self) -> int:
        return self.total.count

    @property
    def cost_per_conversion_usd(self) -> Decimal | None:
        """Model cost of the converted conversations per conversion."""
        return _per_conversion(self.conversations_cost_usd, self.count)

    @property
    def overall_cost_per_conversion_usd(self) -> Decimal | None:
        """The report's whole model cost per conversion."""
        return _per_conversion(self.overall_cost_usd, self.count)

    def as_dict(self) -> dict[str, Any]:
        per, overall = self.cost_per_conversion_usd, self.overall_cost_per_conversion_usd
        return {
            "kinds": list(self.kinds),
            "count": self.count,
            "value": self.total.as_dict()["value"],
            "by_kind": _tallies(self.by_kind),
            "by_tier": _tallies(self.by_tier),
            "by_intent": _tallies(self.by_intent),
            "by_language": _tallies(self.by_language),
            "by_answerer": _tallies(self.by_answerer),
            "classified_locally": self.classified_locally,
            "not_converted": self.not_converted,
            "conversations": self.conversations,
            "conversations_cost_usd": str(self.conversations_cost_usd),
            "cost_per_conversion_usd": None if per is None else str(per),
            "overall_cost_per_conversion_usd": None if overall is None else str(overall),
        }


def _since(query: Any, since: dt.datetime | None) -> Any:
    return query if since is None else query.where(col(Outcome.created_at) >= since)


def _credited(kinds: tuple[str, ...], since: dt.datetime | None) -> Any:
    """Converting outcomes with the id of the message credited with each (a subquery)."""
    m = aliased(Message)
    sent_first = sa.case((col(m.state) == MessageState.sent.value, 0), else_=1)
    carrier = (
        sa.select(col(m.id))
        .where(
            col(m.conversation_ref) == col(Outcome.conversation_ref),
            col(m.created_at) <= col(Outcome.created_at),
        )
        .order_by(sent_first, col(m.created_at).desc(), col(m.id).desc())
        .limit(1)
        .correlate(Outcome)
        .scalar_subquery()
    )
    query: Any = sa.select(
        col(Outcome.kind).label("kind"),
        col(Outcome.value).label("value"),
        col(Outcome.currency).label("currency"),
        col(Outcome.conversation_ref).label("conversation_ref"),
        col(Outcome.message_id).label("message_id"),
        sa.func.coalesce(carrier, col(Outcome.message_id)).label("carrier"),
    ).where(col(Outcome.kind).in_(kinds))
    return _since(query, since).subquery("credited")


def _classified_locally(session: Session, credited: Any) -> set[str]:
    """The credited messages whose last `classified` event came from the local tier."""
    query = (
        sa.select(col(AuditEvent.message_id), detail_text("tier"))
        .where(
            col(AuditEvent.action) == "classified",
            col(AuditEvent.message_id).in_(sa.select(credited.c.carrier)),
        )
        .order_by(col(AuditEvent.message_id), col(AuditEvent.seq))
    )
    last_tier = {str(mid): tier for mid, tier in session.execute(query).all()}
    return {mid for mid, tier in last_tier.items() if tier == "local"}


def _conversations_cost(session: Session, credited: Any) -> tuple[int, Decimal]:
    """How many conversations converted, and the model cost of all their messages (a
    message without a conversation stands for its own)."""
    refs = sa.select(credited.c.conversation_ref).where(credited.c.conversation_ref.is_not(None))
    lone = sa.select(credited.c.message_id).where(
        credited.c.conversation_ref.is_(None), credited.c.message_id.is_not(None)
    )
    n = session.execute(
        sa.select(
            sa.func.count(
                sa.distinct(sa.func.coalesce(credited.c.conversation_ref, credited.c.message_id))
            )
        )
    ).scalar_one()
    cost = session.execute(
        sa.select(sa.func.sum(col(Message.cost_usd))).where(
            sa.or_(col(Message.conversation_ref).in_(refs), col(Message.id).in_(lone))
        )
    ).scalar_one()
    return int(n or 0), Decimal(str(cost or 0))


def conversion_figures(
    session: Session, *, policy: Policy, since: dt.datetime | None, overall_cost_usd: Decimal
) -> Conversions:
    """Conversions recorded since `since`, credited and costed as the module says."""
    kinds = converting_kinds(policy)
    figures = Conversions(kinds=kinds, overall_cost_usd=overall_cost_usd)
    others = _since(
        sa.select(sa.func.count()).where(col(Outcome.kind).not_in(kinds)), since
    ).select_from(Outcome)
    figures.not_converted = int(session.execute(others).scalar_one())
    credited = _credited(kinds, since)
    rows = session.execute(
        sa.select(
            credited.c.kind,
            credited.c.value,
            credited.c.currency,
            credited.c.carrier,
            col(Message.state),
            col(Message.tier),
            col(Message.intent),
            col(Message.language),
            col(Message.reply_provider),
        ).outerjoin(Message, col(Message.id) == credited.c.carrier)
    ).all()
    local = _classified_locally(session, credited)
    groups: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for kind, value, currency, carrier, state, tier, intent, language, provider in rows:
        amount = None if value is None else Decimal(str(value))
        figures.total.add(amount, currency)
        answerer = who_answered(state=state, tier=tier, reply_provider=provider)
        for name, key in (
            ("kind", kind),
            ("tier", tier),
            ("intent", intent),
            ("language", language),
            ("answerer", answerer),
        ):
            groups[name][str(key or NONE)].add(amount, currency)
        if carrier in local:
            figures.classified_locally += 1
    figures.by_kind = dict(groups["kind"])
    figures.by_tier = dict(groups["tier"])
    figures.by_intent = dict(groups["intent"])
    figures.by_language = dict(groups["language"])
    figures.by_answerer = dict(groups["answerer"])
    figures.conversations, figures.conversations_cost_usd = _conversations_cost(session, credited)
    return figures
