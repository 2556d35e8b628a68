"""Running one step for one message: load, skip if moved on, work, commit, and decide
on errors by their type (retry, dead-letter), never by `except Exception`."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.audit import record
from app.audit.record import head_columns, seed_chain_head
from app.config import get_settings
from app.db import autocommit_connection, get_engine, session_scope
from app.db.models import Delivery, Message, MessageState, utcnow
from app.deadletter import Reason, dead_letter
from app.delivery import idempotency_key, post_reply
from app.errors import (
    ConfigError,
    DeliveryRejected,
    DeliveryRetryable,
    InvalidInput,
    TransientError,
)
from app.pipeline import steps
from app.pipeline.parking import park
from app.pipeline.transition import (
    Change,
    StaleMessage,
    audit_attempts,
    commit_at_once,
    commit_change,
    fits_one_statement,
)
from app.policy import Policy, load_policy
from app.providers import Attempt, TierCallFailed

log = logging.getLogger("keel.pipeline")

STEPS = ("ingest", "classify", "draft", "check", "deliver")


@dataclass(frozen=True)
class Outcome:
    """What the task should do next."""

    kind: Literal[
        "advanced", "skipped", "retry", "dead", "escalated", "missing", "waiting", "parked"
    ]
    next_step: str | None = None
    tier: str | None = None
    retry_in_s: float = 0.0


def current_policy() -> Policy:
    return load_policy(get_settings().keel_policy)


def backoff_s(policy: Policy, attempt: int, hint_s: float | None) -> float:
    """Exponential backoff, capped; a provider's retry-after wins when longer."""
    base = min(
        policy.retries.backoff_max_s, policy.retries.backoff_base_s * 2 ** max(attempt - 1, 0)
    )
    return min(policy.retries.backoff_max_s, max(base, hint_s or 0.0))


def _load(session: Session, message_id: str) -> Message | None:
    return session.get(Message, message_id)


_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]


_LOAD = sa.select(_MESSAGES, *head_columns(_MESSAGES.c.id)).where(
    _MESSAGES.c.id == sa.bindparam("id")
)


@dataclass(frozen=True)
class Loaded:
    message: Message
    audit_head: tuple[int, str] | None  # seq and hash of its last audit event


def load_message(message_id: str) -> Loaded | None:
    """The message as it is now and its audit chain's head: one read in autocommit,
    outside any transaction (the step's commit checks the version it read)."""
    with autocommit_connection() as conn:
        row = conn.execute(_LOAD, {"id": message_id}).mappings().first()
    if row is None:
        return None
    values = dict(row)
    seq, digest = values.pop("audit_seq"), values.pop("audit_hash")
    return Loaded(Message(**values), None if seq is None else (seq, digest))


def execute(step: str, message_id: str, *, now: dt.datetime | None = None) -> Outcome:
    """Run `step` for one message once. Idempotent: a message past `step` is skipped."""
    policy = current_policy()
    loaded = load_message(message_id)
    if loaded is None:
        log.warning("message not found", extra={"message_id": message_id, "step": step})
        return Outcome("missing")
    message = loaded.message
    if message.next_step != step or MessageState(message.state).is_terminal:
        return Outcome("skipped")
    change: Change | None = None
    try:
        change = _work(step, message, policy=policy, now=now or utcnow())
        if change is None:
            return Outcome("waiting")
        commit_step(message, step=step, change=change, audit_head=loaded.audit_head)
    except StaleMessage:
        # Another run moved the message on first; the calls this run paid for are still
        # part of the record.
        if change is not None:
            _audit_spent_attempts(step, message, change.attempts)
        return Outcome("skipped")
    except TierCallFailed as exc:
        return _on_model_failure(step, message, exc, policy=policy)
    except InvalidInput as exc:
        return _give_up(step, message, Reason.invalid_input, str(exc))
    except DeliveryRejected as exc:
        _note_delivery(message, status="rejected", error=str(exc))
        return _give_up(step, message, Reason.delivery_rejected, str(exc))
    except DeliveryRetryable as exc:
        _note_delivery(message, status="failed", error=str(exc))
        return _retry_or_give_up(step, message, str(exc), exc.retry_after_s, policy=policy)
    except ConfigError as exc:
        return _give_up(step, message, Reason.config_error, str(exc))
    state = change.updates.get("state", message.state)
    if state == MessageState.escalated:
        return Outcome("escalated")
    if state == MessageState.scheduled:
        return Outcome("waiting", next_step=change.next_step)
    tier = change.updates.get("tier", message.tier)
    return Outcome("advanced", next_step=change.next_step, tier=tier)


def commit_step(
    message: Message, *, step: str, change: Change, audit_head: tuple[int, str] | None
) -> None:
    """Commit the step, chaining its events onto the head read with the message; if
    an event was appended since (a duplicate arriving, say), chain onto that one.

    On Postgres a step without extra rows commits in one statement; otherwise, and on
    SQLite, in a transaction."""
    try:
        if audit_head is not None and fits_one_statement(change, dialect=get_engine().dialect.name):
            with autocommit_connection() as conn:
                commit_at_once(
                    conn, message=message, step=step, change=change, audit_head=audit_head
                )
            return
        with session_scope() as session:
            if audit_head is not None:
                seed_chain_head(session, message.id, audit_head)
            commit_change(session, message=message, step=step, change=change)
    except sa.exc.IntegrityError:
        if audit_head is None:
            raise
        with session_scope() as session:
            commit_change(session, message=message, step=step, change=change)


def _work(step: str, message: Message, *, policy: Policy, now: dt.datetime) -> Change | None:
    if step == "ingest":
        return steps.ingest(message, policy=policy)
    if step == "classify":
        return steps.classify(message, policy=policy)
    if step == "draft":
        return steps.draft(message, policy=policy)
    if step == "check":
        return steps.check(message, policy=policy, now=now)
    if step == "deliver":
        return _deliver(message, now=now)
    raise ValueError(f"unknown step {step!r}")


def _deliver(message: Message, *, now: dt.datetime) -> Change | None:
    """Fix the reply text in a delivery row first, then POST it (or log it)."""
    if message.state == MessageState.scheduled and message.send_at and message.send_at > now:
        return None
    settings = get_settings()
    delivery = _ensure_delivery(message, target=steps.delivery_target(settings))
    if delivery.target == "webhook" and settings.keel_webhook_url:
        payload = steps.delivery_payload(message)
        payload["text"] = delivery.text
        status = post_reply(
            url=settings.keel_webhook_url,
            secret=settings.keel_webhook_secret,
            payload=payload,
            key=delivery.idempotency_key,
            timeout_s=settings.keel_webhook_timeout_s,
        )
    else:
        status = 0
        log.info("delivered to log channel", extra={"message_id": message.id})
    delivery.attempts += 1
    sent = sa.update(_DELIVERIES).where(_DELIVERIES.c.id == delivery.id)
    return Change(
        # the delivery's outcome commits with the message's new state
        statements=[
            sent.values(
                attempts=delivery.attempts,
                status="sent",
                last_error=None,
                last_status_code=status or None,
                delivered_at=utcnow(),
            )
        ],
        next_step=None,
        updates={"state": MessageState.sent, "send_at": None},
        events=[
            (
                "sent",
                {
                    "target": delivery.target,
                    "idempotency_key": delivery.idempotency_key,
                    "http_status": status or None,
                    "attempts": delivery.attempts,
                },
            )
        ],
    )


def _ensure_delivery(message: Message, *, target: str) -> Delivery:
    """The message's delivery row; the first call inserts it, fixing the reply text
    before any POST. One statement in autocommit; a second only when it existed."""
    values = {
        "message_id": message.id,
        "idempotency_key": idempotency_key(message.id),
        "text": message.reply_text or "",
        "channel": message.channel,
        "target": target,
        "tier": message.tier,
        "model": message.reply_model,
        "status": "pending",
        "attempts": 0,
        "created_at": utcnow(),
    }
    with autocommit_connection() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        row = (
            conn.execute(
                insert(_DELIVERIES).values(values).on_conflict_do_nothing().returning(_DELIVERIES)
            )
            .mappings()
            .first()
        )
        if row is None:  # made by an earlier attempt: its text stands
            row = (
                conn.execute(sa.select(_DELIVERIES).where(_DELIVERIES.c.message_id == message.id))
                .mappings()
                .one()
            )
    return Delivery(**row)


def _note_delivery(
    message: Message, *, status: str, error: str | None = None, http_status: int | None = None
) -> None:
    with session_scope() as session:
        delivery = session.exec(select(Delivery).where(Delivery.message_id == message.id)).first()
        if delivery is None:
            return
        delivery.attempts += 1
        delivery.status = status
        delivery.last_error = error
        if http_status:
            delivery.last_status_code = http_status
        if status == "sent":
            delivery.delivered_at = utcnow()
        session.add(delivery)


def _audit_spent_attempts(step: str, message: Message, attempts: list[Attempt]) -> None:
    """Audit model calls whose step did not commit, and add what they cost."""
    if not attempts:
        return
    with session_scope() as session:
        audit_attempts(session, message=message, step=step, attempts=attempts, actor="worker")
        cost = sum((a.cost_usd for a in attempts), Decimal(0))
        if cost:
            session.execute(
                sa.update(Message)
                .where(col(Message.id) == message.id)
                .values(cost_usd=Message.cost_usd + cost)
            )


def _on_model_failure(
    step: str, message: Message, exc: TierCallFailed, *, policy: Policy
) -> Outcome:
    _audit_spent_attempts(step, message, exc.attempts)
    with session_scope() as session:
        fresh = _load(session, message.id)
        if fresh is None or fresh.version != message.version:
            return Outcome("skipped")
    if exc.all_rejected:
        return _give_up(step, message, Reason.provider_rejected, str(exc.last_error or exc))
    if exc.all_config:
        return _give_up(step, message, Reason.config_error, str(exc.last_error or exc))
    # An outage: the message waits in the database until a probe of its tier answers.
    tier = policy.routing.classify_tier if step == "classify" else message.tier
    reason = ",".join(sorted({a.status for a in exc.attempts})) or "unavailable"
    parked = park(
        message_id=message.id,
        version=message.version,
        tier=tier or policy.routing.draft_tier,
        reason=reason,
        step=step,
    )
    return Outcome("parked" if parked else "skipped")


def _retry_or_give_up(
    step: str, message: Message, error: str, hint_s: float | None, *, policy: Policy
) -> Outcome:
    with session_scope() as session:
        fresh = _load(session, message.id)
        if fresh is None or fresh.next_step != step:
            return Outcome("skipped")
        fresh.step_attempts += 1
        fresh.updated_at = utcnow()
        session.add(fresh)
        attempts = fresh.step_attempts
        if step == "deliver":
            record(
                session,
                message_id=fresh.id,
                action="delivery_failed",
                actor="worker",
                step=step,
                trace_id=fresh.trace_id,
                detail={"error": error, "attempt": attempts},
            )
    if attempts >= policy.retries.attempts_per_step:
        return _give_up(step, message, Reason.max_attempts, error)
    return Outcome("retry", next_step=step, retry_in_s=backoff_s(policy, attempts, hint_s))


def _give_up(step: str, message: Message, reason: Reason, error: str) -> Outcome:
    with session_scope() as session:
        fresh = _load(session, message.id)
        if fresh is None or MessageState(fresh.state).is_terminal:
            return Outcome("skipped")
        dead_letter(session, message=fresh, reason=reason, step=step, error=error)
    log.warning(
        "dead-lettered", extra={"message_id": message.id, "step": step, "reason": str(reason)}
    )
    return Outcome("dead")


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError)


def give_up_poison(step: str, message_id: str, *, crashes: int) -> Outcome:
    """Dead-letter a message whose task killed its worker `crashes` times."""
    with session_scope() as session:
        message = _load(session, message_id)
    if message is None:
        return Outcome("missing")
    return _give_up(step, message, Reason.poison, f"worker died {crashes - 1} times on {step}")
