"""The work of each step, given a loaded message: returns a `Change`, commits nothing.

Model calls and guardrails happen here; persistence is `transition.commit_change`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import cast

from app.config import Settings
from app.db.models import Message, MessageState, Review
from app.errors import InvalidInput
from app.guardrails import blocked, check_draft, send_window_verdict
from app.pipeline import prompts
from app.pipeline.schemas import MAX_TEXT_CHARS
from app.pipeline.transition import Change
from app.policy import Policy, TierName
from app.providers import call_tier
from app.routing import decide

log = logging.getLogger("keel.pipeline")


def ingest(message: Message, *, policy: Policy) -> Change:
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
    return Change(next_step="classify")


def escalation(message: Message, *, reason: str, draft: str | None) -> tuple[dict, Review]:
    updates = {"state": MessageState.escalated, "escalation_reason": reason}
    return updates, Review(message_id=message.id, reason=reason, draft_text=draft)


def classify(message: Message, *, policy: Policy) -> Change:
    """Fast-tier classification, then the routing decision."""
    tier = policy.routing.classify_tier
    result = call_tier(
        policy=policy,
        tier=tier,
        prompt=prompts.classify_prompt(policy=policy, text=message.text),
        task="classify",
        message_id=message.id,
        parse=lambda raw: prompts.parse_classification(raw, intents=policy.routing.intents),
    )
    intent, language, confidence = result.value
    language = language or (message.contact_locale or "")[:2] or None
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
        "tier": tier,
        "provider": result.provider,
        "model": result.model,
        "decision": decision.action,
        "route_reason": decision.reason,
    }
    change = Change(next_step=None, attempts=result.attempts, events=[("classified", classified)])
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
        updates["tier"] = decision.tier
        change.next_step = "draft"
    change.updates = updates
    return change


def draft(message: Message, *, policy: Policy) -> Change:
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
    """Guardrails on the draft, then the contact's send window."""
    draft_text = message.reply_text or ""
    verdicts = check_draft(
        draft_text, policy=policy, channel=message.channel, language=message.language
    )
    window, send_at = send_window_verdict(
        now, contact_timezone=message.contact_timezone, policy=policy
    )
    events = [
        ("guardrail", {"check": v.check, "passed": v.passed, "reason": v.reason, **v.detail})
        for v in [*verdicts, window]
    ]
    failing = blocked(verdicts)
    if failing:
        reason = "guardrail:" + ",".join(f"{v.check}:{v.reason}" for v in failing)
        esc, review = escalation(message, reason=reason, draft=draft_text)
        return Change(
            next_step=None,
            updates=esc,
            rows=[review],
            events=[*events, ("escalated", {"reason": reason})],
        )
    if send_at is not None:
        return Change(
            next_step="deliver",
            updates={"state": MessageState.scheduled, "send_at": send_at},
            events=[*events, ("scheduled", {"send_at": send_at.isoformat()})],
        )
    return Change(next_step="deliver", events=events)


def delivery_payload(message: Message) -> dict[str, object]:
    return {
        "message_id": message.id,
        "external_id": message.external_id,
        "channel": message.channel,
        "contact_id": message.contact_id,
        "conversation_id": message.conversation_id,
        "text": message.reply_text,
        "tier": message.tier,
        "model": message.reply_model,
    }


def delivery_target(settings: Settings) -> str:
    return "webhook" if settings.keel_webhook_url else "log"
