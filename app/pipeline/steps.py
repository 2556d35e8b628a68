"""The work of each model and guardrail step, given a loaded message: returns a
`Change`, commits nothing. Every step has the same signature, `(message, *, policy,
now)`, so the registry binds them alike.

Model calls and guardrails happen here; persistence is `transition.commit_change`;
the deliver step's work lives in `app/delivery/`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from app import prompts
from app.db.models import Message, MessageState, Review
from app.delivery import deliver as send_reply
from app.errors import InvalidInput
from app.guardrails import Verdict, check_input, evaluate_reply
from app.pipeline.classification import classify_text
from app.pipeline.schemas import MAX_TEXT_CHARS
from app.pipeline.transition import Change
from app.policy import Policy, TierName
from app.providers import call_tier
from app.routing import decide, tier_up

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
    if not report.injection:
        return Change(next_step="classify", updates=updates, events=events)
    patterns = report.flags.get("injection_patterns")
    if policy.guardrails.on_injection == "flagship":
        updates["violations"] = [INJECTION | {"patterns": patterns}]
        return Change(next_step="classify", updates=updates, events=events)
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


def classify(message: Message, *, policy: Policy, now: dt.datetime) -> Change:
    """Local-tier (when configured and sure) or fast-tier classification, then routing."""
    found = classify_text(message.text, policy=policy, message_id=message.id)
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
    if decision.action == "no_reply":
        updates["state"] = MessageState.no_reply
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


def draft(message: Message, *, policy: Policy, now: dt.datetime) -> Change:
    """A reply drafted at the message's tier, in the customer's language."""
    tier = cast(TierName, message.tier or policy.routing.draft_tier)
    language = message.language or "en"
    result = call_tier(
        policy=policy,
        tier=tier,
        prompt=prompts.draft_prompt(
            policy=policy,
            text=message.text,
            intent=message.intent or "other",
            language=language,
            contact_name=message.contact_name,
            violations=message.violations,
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
    """Send the reply (app/delivery); the delivery row is marked `sent` in the same
    commit as the message. None while a scheduled reply's time has not come."""
    delivered = send_reply(message, now=now)
    if delivered is None:
        return None
    return Change(
        statements=[delivered.mark_sent],
        next_step=None,
        updates={"state": MessageState.sent, "send_at": None},
        events=[("sent", delivered.audit_detail())],
    )
