"""The work of each model and guardrail step, given a loaded message: returns a
`Change`, commits nothing. Every step has the same signature, `(message, *, policy,
now)`, so the registry binds them alike.

Model calls and guardrails happen here; persistence is `transition.commit_change`;
the check and deliver steps are in `outbound.py`, the sending itself in `app/delivery/`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from typing import Any, cast

from app import prompts
from app.conversations import (
    contact_opted_out,
    context_for,
    detect_opt_out,
    opt_out_contact,
    read_view,
    take_over_turn,
)
from app.db.models import Message, MessageState, Review
from app.errors import InvalidInput
from app.guardrails import Verdict, check_input, greeting_name
from app.pipeline import turns
from app.pipeline.classification import classify_text
from app.pipeline.schemas import MAX_TEXT_CHARS
from app.pipeline.transition import Change
from app.policy import Policy, TierName
from app.providers import call_tier
from app.routing import decide

log = logging.getLogger("keel.pipeline")


def ingest(message: Message, *, policy: Policy, now: dt.datetime) -> Change:
    """Input checks before any model sees the text.

    Raises:
        InvalidInput: the text can never be processed.
    """
    text = message.text
    if not text or not text.strip():
        raise InvalidInput("text is blank")
    if "\x00" in text:
        raise InvalidInput("text contains NUL bytes")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"text longer than {MAX_TEXT_CHARS} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput("text is not valid Unicode") from exc
    report = check_input(text, max_chars=MAX_TEXT_CHARS)
    events = [verdict_event(v) for v in report.verdicts]
    updates: dict[str, Any] = {"input_flags": report.flags}
    if report.language:
        updates["language"] = report.language  # classify falls back to it
    opt_out = detect_opt_out(text)
    if opt_out is not None:
        withdrawn_ids = opt_out_contact(message)
        change = turns.opted_out(
            message,
            opt_out=opt_out,
            withdrawn_ids=withdrawn_ids,
            policy=policy,
            guessed_language=report.language,
        )
        return replace(change, updates=updates | change.updates, events=events + change.events)
    if message.conversation_ref is not None and contact_opted_out(message):
        change = turns.contact_is_opted_out()
        return replace(change, updates=updates | change.updates, events=events + change.events)
    # the rest of a burst may still come: classify once it has been quiet (beat releases)
    waits = message.hold_until is not None and message.hold_until > now
    if not waits:
        # the quiet period is over already: this step enqueues classify itself, so beat's
        # release_held must not find the message too (classify would be queued twice)
        updates["hold_until"] = None
    if not report.injection:
        return Change(next_step="classify", updates=updates, events=events, waits=waits)
    patterns = report.flags.get("injection_patterns")
    if policy.guardrails.on_injection == "flagship":
        updates["violations"] = [INJECTION | {"patterns": patterns}]
        return Change(next_step="classify", updates=updates, events=events, waits=waits)
    esc, review = escalation(message, reason="injection_suspected", draft=None)
    event = ("escalated", {"reason": "injection_suspected", "patterns": patterns})
    return Change(next_step=None, updates=updates | esc, rows=[review], events=[*events, event])


INJECTION: dict[str, Any] = {"check": "injection", "reason": "injection_suspected"}
REASON_MAX_CHARS = 200  # the width of escalation_reason and reviews.reason


def escalation(message: Message, *, reason: str, draft: str | None) -> tuple[dict, Review]:
    reason = reason[:REASON_MAX_CHARS]
    updates = {"state": MessageState.escalated, "escalation_reason": reason}
    return updates, Review(message_id=message.id, reason=reason, draft_text=draft)


def verdict_event(verdict: Verdict) -> tuple[str, dict[str, Any]]:
    """The `guardrail` audit event of one verdict."""
    return "guardrail", verdict.audit_detail()


def strict_tier(message: Message, tier: TierName | None) -> TierName | None:
    """The flagship for a message the injection screen flagged (policy `flagship`)."""
    injected = any(v.get("check") == "injection" for v in message.violations or [])
    return "flagship" if injected and tier is not None else tier


def violation(verdict: Verdict) -> dict[str, Any]:
    """What a redraft prompt and a reviewer need to know about a blocked verdict."""
    found: dict[str, Any] = {"check": verdict.check, "reason": verdict.reason}
    for key in ("bad", "phrases", "foreign", "markers", "deals"):
        if verdict.detail.get(key):
            found[key] = verdict.detail[key]
    return found


def classify(message: Message, *, policy: Policy, now: dt.datetime) -> Change | None:
    """Local-tier (when configured and sure) or fast-tier classification of the
    conversation's unanswered turn, then routing. A message that is not its
    conversation's latest is answered by the latest (`coalesced`); the latest withdraws
    the earlier unsent replies it now answers. During a handoff it escalates."""
    if message.hold_until is not None and message.hold_until > now:
        return None  # a burst's quiet period: beat enqueues it when it ends
    conversation = read_view(message)
    handoff = False
    if conversation is not None:
        if conversation.latest_message_id != message.id:
            return turns.withdrawn(
                message, reason="coalesced", answered_by=conversation.latest_message_id
            )
        if conversation.contact_opted_out:
            return turns.contact_is_opted_out()
        handoff = conversation.in_handoff(now)
        if not handoff:
            take_over_turn(message, conversation)
    context = context_for(message, policy=policy)
    found = classify_text(
        context.text, policy=policy, message_id=message.id, history=context.history
    )
    intent, confidence = found.intent, found.confidence
    language = found.language or message.language or (message.contact_locale or "")[:2] or None
    decision = decide(policy=policy, intent=intent, confidence=confidence)
    updates: dict[str, object] = {
        "intent": intent,
        "language": language,
        "confidence": confidence,
    }
    classified = {
        "intent": intent,
        "language": language,
        "confidence": confidence,
        **found.source(),
        "decision": decision.action,
        "route_reason": decision.reason,
    }
    change = Change(next_step=None, attempts=found.attempts, events=[("classified", classified)])
    if handoff:
        esc, review = escalation(message, reason="handoff", draft=None)
        updates.update(esc)
        change.rows.append(review)
        change.events.append(("escalated", {"reason": "handoff"}))
    elif decision.action == "no_reply":
        updates["state"] = MessageState.no_reply
        updates["reason"] = (decision.reason or "no_reply")[:64]
        change.events.append(("no_reply", {"reason": decision.reason}))
    elif decision.action == "escalate":
        esc, review = escalation(message, reason=decision.reason or "escalate", draft=None)
        updates.update(esc)
        change.rows.append(review)
        change.events.append(("escalated", {"reason": decision.reason}))
    else:
        updates["state"] = MessageState.classified
        updates["tier"] = strict_tier(message, decision.tier)
        change.next_step = "draft"
    change.updates = updates
    return change


def draft(message: Message, *, policy: Policy, now: dt.datetime) -> Change | None:
    """A reply drafted at the message's tier, in the customer's language."""
    conversation = read_view(message)
    if conversation is not None and conversation.latest_message_id != message.id:
        # a newer message came while this one was classified: it answers the turn
        return turns.withdrawn(
            message, reason="coalesced", answered_by=conversation.latest_message_id
        )
    tier = cast(TierName, message.tier or policy.routing.draft_tier)
    language = message.language or "en"
    context = context_for(message, policy=policy)
    result = call_tier(
        policy=policy,
        tier=tier,
        prompt=prompts.draft_prompt(
            policy=policy,
            text=context.text,
            intent=message.intent or "other",
            language=language,
            contact_name=greeting_name(message.contact_name),
            violations=message.violations,
            history=context.history,
        ),
        task="draft",
        message_id=message.id,
        parse=_nonblank,
    )
    return Change(
        next_step="check",
        updates={
            "state": MessageState.drafted,
            "reply_text": result.value,
            "reply_provider": result.provider,
            "reply_model": result.model,
        },
        attempts=result.attempts,
        events=[
            (
                "drafted",
                {
                    "tier": tier,
                    "provider": result.provider,
                    "model": result.model,
                    "text": result.value,
                    "chars": len(result.value),
                },
            )
        ],
    )


def _nonblank(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise ValueError("empty draft")
    return text
