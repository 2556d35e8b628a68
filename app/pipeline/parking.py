"""Parking: when no provider of a tier can take a call, the message waits in the
database (state `parked`, with its tier and reason), not in a Celery countdown. A beat
task probes each tier that has parked messages and, once one answers, drains them
oldest first at the policy's rate, each resuming at the step that parked it. Past
`max_park_age_s` a parked message is dead-lettered `park_expired`."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import cast

from sqlmodel import col, select

from app.audit import Actor, record
from app.broker import enqueue_many
from app.db import session_scope
from app.db.models import Message, MessageState, utcnow
from app.deadletter import Reason, dead_letter
from app.lifecycle import Step, move, resume_state
from app.policy import Policy, TierName
from app.providers import budget
from app.providers.chain import probe_tier
from app.state import get_redis, keys


@dataclass
class DrainResult:
    drained: dict[str, int] = field(default_factory=dict)
    expired: int = 0
    probed: dict[str, str | None] = field(default_factory=dict)


def park(*, message_id: str, version: int, tier: str, reason: str, step: str) -> bool:
    """Park a message that is still at `version`; False when it moved on meanwhile."""
    now = utcnow()
    with session_scope() as session:
        message = session.get(Message, message_id)
        if message is None or message.version != version:
            return False
        moved = move(
            session,
            message,
            to=MessageState.parked,
            parked_tier=tier,
            park_reason=reason[:200],
            parked_at=message.parked_at or now,
            updated_at=now,
        )
        if not moved:
            return False
        record(
            session,
            message_id=message_id,
            action="parked",
            actor="worker",
            step=step,
            trace_id=message.trace_id,
            detail={"tier": tier, "reason": reason},
        )
    return True


def unpark(message: Message, *, actor: Actor, reason: str) -> str | None:
    """Return one parked message to its step; the step's name, or None if it moved on."""
    step = message.next_step or Step.classify
    with session_scope() as session:
        moved = move(
            session,
            message,
            expect=MessageState.parked,
            to=resume_state(step),
            step_attempts=0,
        )
        if not moved:
            return None
        record(
            session,
            message_id=message.id,
            action="unparked",
            actor=actor,
            step=step,
            trace_id=message.trace_id,
            detail={"tier": message.parked_tier, "reason": reason},
        )
    return step


def parked_tiers() -> list[str]:
    with session_scope() as session:
        rows = session.exec(
            select(Message.parked_tier)
            .where(Message.state == MessageState.parked)
            .group_by(col(Message.parked_tier))
        ).all()
    return [r for r in rows if r]


def oldest_parked(*, tier: str | None, limit: int) -> list[Message]:
    with session_scope() as session:
        query = select(Message).where(Message.state == MessageState.parked)
        if tier is not None:
            query = query.where(Message.parked_tier == tier)
        return list(session.exec(query.order_by(col(Message.parked_at)).limit(limit)).all())


def expire_parked(*, policy: Policy, now: dt.datetime) -> int:
    """Dead-letter `park_expired` every message parked longer than `max_park_age_s`."""
    cutoff = now - dt.timedelta(seconds=policy.retries.max_park_age_s)
    expired = 0
    with session_scope() as session:
        stale = session.exec(
            select(Message).where(
                Message.state == MessageState.parked, col(Message.parked_at) < cutoff
            )
        ).all()
        for message in stale:
            entry = dead_letter(
                session,
                message=message,
                reason=Reason.park_expired,
                step=message.next_step,
                error=f"parked since {message.parked_at}: {message.park_reason}",
                actor="beat",
            )
            expired += entry is not None
    return expired


def tier_available(*, policy: Policy, tier: TierName) -> tuple[bool, str | None]:
    """Has a probe of this tier (or a neighbour) answered lately? Probes at most once per
    `probe_interval_s` across all beat and worker processes."""
    r, k = get_redis(), keys()
    if r.exists(k.tier_up(tier)):
        return True, None
    interval_s = max(1, math.ceil(policy.retries.probe_interval_s))
    if not r.set(k.probe_lock(tier), 1, nx=True, ex=interval_s):
        return False, None
    answered = probe_tier(policy=policy, tier=tier)
    if answered:
        r.set(k.tier_up(tier), answered, ex=interval_s)
        return True, answered
    return False, None


def drain(*, policy: Policy, interval_s: float, now: dt.datetime | None = None) -> DrainResult:
    """One beat tick: expire the too-old, probe each parked tier, drain what may go."""
    now = now or utcnow()
    result = DrainResult(expired=expire_parked(policy=policy, now=now))
    per_tick = max(1, math.floor(policy.retries.drain_rate_per_s * interval_s))
    for tier in parked_tiers():
        if tier == "flagship" and policy.routing.over_budget == "park" and budget.exhausted(policy):
            continue  # parked for the budget: tomorrow's counter starts at zero
        up, answered = tier_available(policy=policy, tier=cast(TierName, tier))
        result.probed[tier] = answered
        if not up:
            continue
        batch = []
        for message in oldest_parked(tier=tier, limit=per_tick):
            step = unpark(message, actor="beat", reason="provider_recovered")
            if step:
                batch.append((step, message.id, message.tier))
        enqueue_many(batch, policy=policy)
        result.drained[tier] = len(batch)
    return result
