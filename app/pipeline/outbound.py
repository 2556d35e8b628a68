"""The outbound steps: `check` (every guardrail on the draft, the send window, the
reply window) and `deliver` (the conversation's lease, then the webhook). Each returns
a `Change`, commits nothing."""

from __future__ import annotations

import datetime as dt

from app.conversations import Claim, claim_delivery, read_view, release_statement, window_closes_at
from app.db.models import Message, MessageState
from app.delivery import deliver as send_reply
from app.errors import ConversationBusy
from app.guardrails import evaluate_reply
from app.pipeline import turns
from app.pipeline.steps import escalation, verdict_event, violation
from app.pipeline.transition import Change, Extra
from app.policy import Policy
from app.routing import tier_up


def check(message: Message, *, policy: Policy, now: dt.datetime) -> Change:
    """Guardrails on the draft, then the contact's send window. A blocked draft is redrafted
    one tier up (at most `max_regenerations` times) with its violations, then escalated."""
    draft_text = message.reply_text or ""
    evaluation = evaluate_reply(
        draft_text,
        policy=policy,
        channel=message.channel,
        language=message.language,
        contact_timezone=message.contact_timezone,
        now=now,
    )
    events = [verdict_event(v) for v in evaluation.all_verdicts]
    failing, send_at = evaluation.failing, evaluation.send_at
    closes = _reply_window_closes(message, policy=policy)
    if not failing and closes is not None and (send_at or now) > closes:
        esc, review = escalation(message, reason=str(Claim.window_closed), draft=draft_text)
        detail = {"reason": esc["escalation_reason"], "window_closed_at": closes.isoformat()}
        return Change(
            next_step=None, updates=esc, rows=[review], events=[*events, ("escalated", detail)]
        )
    if failing:
        kept = [v for v in message.violations or [] if v.get("check") == "injection"]
        violations = [*kept, *(violation(v) for v in failing)]
        codes = [f"{v.check}:{v.reason}" for v in failing]
        if message.regenerations < policy.guardrails.max_regenerations:
            tier = tier_up(message.tier, policy=policy)
            redraft = {"from_tier": message.tier, "to_tier": tier, "violations": codes}
            return Change(
                next_step="draft",
                updates={
                    "state": MessageState.classified,
                    "tier": tier,
                    "regenerations": message.regenerations + 1,
                    "violations": violations,
                    "reply_text": None,
                },
                events=[*events, ("redraft", redraft)],
            )
        reason = "guardrail:" + ",".join(codes)
        esc, review = escalation(message, reason=reason, draft=draft_text)
        return Change(
            next_step=None,
            updates={**esc, "violations": violations},
            rows=[review],
            events=[*events, ("escalated", {"reason": esc["escalation_reason"]})],
        )
    if send_at is not None:
        return Change(
            next_step="deliver",
            updates={"state": MessageState.scheduled, "send_at": send_at},
            events=[*events, ("scheduled", {"send_at": send_at.isoformat()})],
        )
    return Change(next_step="deliver", events=events)


def deliver(message: Message, *, policy: Policy, now: dt.datetime) -> Change | None:
    """Send the reply (app/delivery) once the conversation lets it go (its lease, order,
    opt-out, reply window); the delivery row is marked `sent` and the lease freed in the
    same commit as the message. None while a scheduled reply's time has not come.

    Raises:
        ConversationBusy: an earlier reply of the conversation is being delivered.
    """
    if message.state == MessageState.scheduled and message.send_at and message.send_at > now:
        return None
    claim = claim_delivery(message, policy=policy, now=now)
    match claim.claim:
        case Claim.busy:
            raise ConversationBusy(f"conversation of {message.id} is delivering")
        case Claim.superseded:
            return turns.withdrawn(
                message, reason="superseded", answered_by=claim.latest_message_id
            )
        case Claim.opted_out:
            return turns.withdrawn(message, reason="opted_out", answered_by=None)
        case Claim.window_closed:
            reason = str(Claim.window_closed)
            esc, review = escalation(message, reason=reason, draft=message.reply_text)
            return Change(
                next_step=None,
                updates=esc,
                rows=[review],
                events=[("escalated", {"reason": esc["escalation_reason"]})],
            )
    delivered = send_reply(message, now=now)
    if delivered is None:
        return None
    release = release_statement(message)
    extras = [Extra(*delivered.mark_sent), *([Extra(*release)] if release is not None else [])]
    return Change(
        statements=extras,
        next_step=None,
        updates={"state": MessageState.sent, "send_at": None, "answered_by": message.id},
        events=[("sent", delivered.audit_detail())],
    )


def _reply_window_closes(message: Message, *, policy: Policy) -> dt.datetime | None:
    hours = policy.reply_window_h(message.channel)
    if hours is None:
        return None
    conversation = read_view(message)
    if conversation is None:
        return None
    return window_closes_at(conversation.last_customer_at, hours=hours)
