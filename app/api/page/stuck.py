"""What is stuck, for the review page's read-only section: dead letters and parked
messages, each with why, and the command an operator runs about them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.api.page.views import waited
from app.deadletter.replay import DeadLetterFilter, count_by_reason, list_dead_letters
from app.pipeline.parking import oldest_parked
from app.policy import Policy

SHOWN = 25
ERROR_CHARS = 200

DEAD_LETTER_WORDS = {
    "invalid_input": "The message itself could not be processed (blank, too long, bad encoding).",
    "max_attempts": "A step kept failing until its attempts ran out (webhook 5xx, timeouts).",
    "delivery_rejected": "The webhook refused the reply with a 4xx.",
    "park_expired": "Parked longer than the policy's max_park_age: no provider answered.",
    "poison": "The worker died every time it ran this message.",
    "provider_rejected": "Every provider refused the request itself (400, 413).",
    "config_error": "Every model refused the credentials or the quota.",
}


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    message_id: str
    reason: str
    step: str
    attempts: int
    age: str
    last_error: str
    replay: str  # the command that replays this one entry


@dataclass(frozen=True)
class DeadLetterReason:
    reason: str
    count: int
    words: str
    replay: str  # the command that replays every entry with this reason (dry run first)


@dataclass(frozen=True)
class ParkedRow:
    message_id: str
    tier: str
    step: str
    reason: str
    age: str
    expires_in: str


@dataclass(frozen=True)
class Stuck:
    reasons: list[DeadLetterReason]
    dead_letters: list[DeadLetterRow]
    dead_total: int
    parked: list[ParkedRow]
    parked_more: bool
    max_park_age: str


def stuck(*, policy: Policy, now: dt.datetime) -> Stuck:
    """The oldest dead letters not yet replayed and the oldest parked messages."""
    counts = count_by_reason()
    entries = list_dead_letters(DeadLetterFilter(limit=SHOWN))
    parked = oldest_parked(tier=None, limit=SHOWN + 1)
    max_age = dt.timedelta(seconds=policy.retries.max_park_age_s)
    return Stuck(
        reasons=[
            DeadLetterReason(
                reason=reason,
                count=count,
                words=DEAD_LETTER_WORDS.get(reason, reason),
                replay=f"keel dlq replay --reason {reason} --dry-run",
            )
            for reason, count in counts.items()
        ],
        dead_letters=[
            DeadLetterRow(
                id=e.id or 0,
                message_id=e.message_id or "",
                reason=e.reason,
                step=e.step or "",
                attempts=e.attempts,
                age=waited(e.created_at, now=now),
                last_error=(e.last_error or "")[:ERROR_CHARS],
                replay=f"keel dlq replay --id {e.id}",
            )
            for e in entries
        ],
        dead_total=sum(counts.values()),
        parked=[
            ParkedRow(
                message_id=m.id,
                tier=m.parked_tier or "",
                step=m.next_step or "",
                reason=m.park_reason or "",
                age=waited(m.parked_at or now, now=now),
                expires_in=waited(now, now=(m.parked_at or now) + max_age),
            )
            for m in parked[:SHOWN]
        ],
        parked_more=len(parked) > SHOWN,
        max_park_age=waited(now, now=now + max_age),
    )
