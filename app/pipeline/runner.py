"""Running one step for one message: load, skip if moved on, work, commit, and decide
on errors by their type (retry, dead-letter), never by `except Exception`."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col

from app.audit import record
from app.audit.record import seed_chain_head
from app.db import direct, get_engine, session_scope
from app.db.models import Message, MessageState, Review, utcnow
from app.deadletter import Reason, dead_letter
from app.delivery import note_failure
from app.errors import (
    ConfigError,
    ConversationBusy,
    DeliveryRejected,
    DeliveryRetryable,
    InvalidInput,
)
from app.lifecycle import Step, move
from app.observability import tracing
from app.pipeline.parking import park
from app.pipeline.registry import StepWork, work_of
from app.pipeline.transition import (
    Change,
    StaleMessage,
    audit_attempts,
    commit_at_once,
    commit_change,
    fits_one_statement,
)
from app.policy import Policy, get_policy
from app.providers import Attempt, TierCallFailed

log = logging.getLogger("keel.pipeline")
CONVERSATION_BUSY_RETRY_S = 1.0
# A model answered, twice, with nothing Keel can use (a customer can provoke it).
UNUSABLE_ANSWER = "unusable_model_answer"


@dataclass(frozen=True)
class Outcome:
    """What the task should do next."""

    kind: Literal[
        "advanced", "skipped", "retry", "dead", "escalated", "missing", "waiting", "parked"
    ]
    next_step: str | None = None
    tier: str | None = None
    retry_in_s: float = 0.0
    # "advanced" by a one-statement commit: the message as that commit left it, so a
    # step run on in the same task starts from it instead of reading it again.
    committed: Loaded | None = field(default=None, compare=False, repr=False)


def _load(session: Session, message_id: str) -> Message | None:
    return session.get(Message, message_id)


_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


# The message's row carries its audit chain's head (`audit_seq`, `audit_hash`).
_LOAD = sa.select(_MESSAGES).where(_MESSAGES.c.id == sa.bindparam("id"))


@dataclass(frozen=True)
class Loaded:
    message: Message
    audit_head: tuple[int, str] | None  # its audit chain's head, as its row keeps it


def load_message(message_id: str) -> Loaded | None:
    """The message as it is now and its audit chain's head: one read in autocommit,
    outside any transaction (the step's commit checks the version it read)."""
    row = direct.execute(_LOAD, {"id": message_id}).first()
    if row is None:
        return None
    message = Message(**row)
    seq, digest = message.audit_seq, message.audit_hash
    return Loaded(message, None if seq is None or digest is None else (seq, digest))


def execute(
    step: str, message_id: str, *, now: dt.datetime | None = None, loaded: Loaded | None = None
) -> Outcome:
    """Run `step` for one message once. Idempotent: a message past `step` is skipped.

    `loaded`: the message as the previous step's commit left it (`Outcome.committed`),
    read again otherwise. Should another process have moved it since, the step's
    commit finds the version changed and the step is skipped, as with a read."""
    policy = get_policy()
    work = work_of(Step(step))
    if loaded is None or loaded.message.id != message_id:
        loaded = load_message(message_id)
    if loaded is None:
        log.warning("message not found", extra={"message_id": message_id, "step": step})
        return Outcome("missing")
    message = loaded.message
    if message.next_step != step or MessageState(message.state).is_terminal:
        return Outcome("skipped")
    with tracing.step_span(
        step,
        message_id=message.id,
        trace_id=message.trace_id,
        channel=message.channel,
        contact_id=message.contact_id,
        conversation=message.conversation_ref,
        tier=message.tier,
    ) as span:
        outcome = _work_on(step, loaded, work=work, policy=policy, now=now)
        if span is not None:
            span.set_attribute("keel.outcome", outcome.kind)
    return outcome


def _work_on(
    step: str, loaded: Loaded, *, work: StepWork, policy: Policy, now: dt.datetime | None
) -> Outcome:
    message = loaded.message
    change: Change | None = None
    try:
        change = work(message, policy=policy, now=now or utcnow())
        if change is None:
            return Outcome("waiting")
        committed = commit_step(message, step=step, change=change, audit_head=loaded.audit_head)
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
        note_failure(message, status="rejected", error=str(exc))
        return _give_up(step, message, Reason.delivery_rejected, str(exc))
    except DeliveryRetryable as exc:
        note_failure(message, status="failed", error=str(exc))
        return _retry_or_give_up(step, message, str(exc), exc.retry_after_s, policy=policy)
    except ConfigError as exc:
        return _give_up(step, message, Reason.config_error, str(exc))
    except ConversationBusy:
        # an earlier reply of the conversation is on its way: not a failed attempt
        return Outcome("retry", next_step=step, retry_in_s=CONVERSATION_BUSY_RETRY_S)
    state = change.updates.get("state", message.state)
    if change.waits:
        return Outcome("waiting", next_step=change.next_step)
    if state == MessageState.escalated:
        return Outcome("escalated")
    if state == MessageState.scheduled:
        return Outcome("waiting", next_step=change.next_step)
    tier = change.updates.get("tier", message.tier)
    return Outcome("advanced", next_step=change.next_step, tier=tier, committed=committed)


def commit_step(
    message: Message, *, step: str, change: Change, audit_head: tuple[int, str] | None
) -> Loaded | None:
    """Commit the step, chaining its events onto the head read with the message; if
    an event was appended since (a duplicate arriving, say), chain onto that one.

    On Postgres a step without extra rows commits in one statement, and the message is
    returned as it left it; otherwise, and on SQLite, in a transaction (None: read it
    again to know)."""
    try:
        if audit_head is not None and fits_one_statement(change, dialect=get_engine().dialect.name):
            after = commit_at_once(message=message, step=step, change=change, audit_head=audit_head)
            assert after.audit_seq is not None and after.audit_hash is not None
            return Loaded(after, (after.audit_seq, after.audit_hash))
        with session_scope() as session:
            if audit_head is not None:
                seed_chain_head(session, message.id, audit_head)
            commit_change(session, message=message, step=step, change=change)
    except sa.exc.IntegrityError:
        if audit_head is None:
            raise
        with session_scope() as session:
            commit_change(session, message=message, step=step, change=change)
    return None


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
    if exc.unusable:
        return _escalate(
            step, message, reason=UNUSABLE_ANSWER, detail={"attempts": len(exc.attempts)}
        )
    if exc.all_rejected:
        return _give_up(step, message, Reason.provider_rejected, str(exc.last_error or exc))
    if exc.all_config:
        return _give_up(step, message, Reason.config_error, str(exc.last_error or exc))
    # An outage: the message waits in the database until a probe of its tier answers.
    tier = policy.routing.classify_tier if step == Step.classify else message.tier
    reason = ",".join(sorted({a.status for a in exc.attempts})) or "unavailable"
    parked = park(
        message_id=message.id,
        version=message.version,
        tier=tier or policy.routing.draft_tier,
        reason=reason,
        step=step,
    )
    return Outcome("parked" if parked else "skipped")


def _escalate(step: str, message: Message, *, reason: str, detail: dict[str, object]) -> Outcome:
    """Hand the message to a person (a review row, `escalated`), unless it moved on."""
    with session_scope() as session:
        fresh = _load(session, message.id)
        if fresh is None or fresh.version != message.version:
            return Outcome("skipped")
        moved = move(
            session,
            fresh,
            to=MessageState.escalated,
            escalation_reason=reason,
            reason=reason,
            next_step=None,
        )
        if not moved:
            return Outcome("skipped")
        session.add(Review(message_id=fresh.id, reason=reason, draft_text=fresh.reply_text))
        record(
            session,
            message_id=fresh.id,
            action="escalated",
            actor="worker",
            step=step,
            trace_id=fresh.trace_id,
            detail={"reason": reason, **detail},
        )
    log.warning("escalated", extra={"message_id": message.id, "step": step, "reason": reason})
    return Outcome("escalated")


def _retry_or_give_up(
    step: str, message: Message, error: str, hint_s: float | None, *, policy: Policy
) -> Outcome:
    with session_scope() as session:
        fresh = _load(session, message.id)
        if fresh is None or fresh.next_step != step:
            return Outcome("skipped")
        attempts = fresh.step_attempts + 1
        if not move(session, fresh, step_attempts=attempts):
            return Outcome("skipped")
        if step == Step.deliver:
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
    return Outcome("retry", next_step=step, retry_in_s=policy.retries.backoff_s(attempts, hint_s))


def _give_up(step: str, message: Message, reason: Reason, error: str) -> Outcome:
    with session_scope() as session:
        fresh = _load(session, message.id)
        if fresh is None or MessageState(fresh.state).is_terminal:
            return Outcome("skipped")
        if dead_letter(session, message=fresh, reason=reason, step=step, error=error) is None:
            return Outcome("skipped")
    log.warning(
        "dead-lettered", extra={"message_id": message.id, "step": step, "reason": str(reason)}
    )
    return Outcome("dead")


def give_up_poison(step: str, message_id: str, *, crashes: int) -> Outcome:
    """Dead-letter a message whose task killed its worker `crashes` times."""
    with session_scope() as session:
        message = _load(session, message_id)
    if message is None:
        return Outcome("missing")
    return _give_up(step, message, Reason.poison, f"worker died {crashes - 1} times on {step}")


def out_of_time(step: str, message_id: str) -> Outcome:
    """The task reached Celery's soft time limit (a wait that bounds nothing else, say a
    lock): no answer in time, not a crash. The step runs again after a backoff, counted
    against `attempts_per_step`, then the message is dead-lettered `max_attempts`."""
    with session_scope() as session:
        message = _load(session, message_id)
    if message is None or message.next_step != step:
        return Outcome("skipped")
    return _retry_or_give_up(
        step, message, "no answer before the task's time limit", None, policy=get_policy()
    )
