"""What the review page shows, worked out from the queue's public models: the contact's
clock and send window, how long a review has waited, the outcome of a decision in words.
Pure functions; the templates only lay these out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from app.db.models import MessageState
from app.guardrails.window import send_window_verdict
from app.policy import Policy
from app.review import ReviewPublic, explain_reason, explain_violation
from app.review.words import kind_label, reason_kind

LANGUAGE_NAMES = {"es": "Spanish", "pt": "Portuguese", "en": "English", "none": "unknown"}
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class Clock:
    """The contact's wall clock and whether a reply may leave now."""

    local: str  # "Tue 1 Dec, 04:12"
    zone: str
    fallback: bool  # the contact gave no (known) zone: the business default is used
    window: str  # "08:00-21:00"
    open: bool
    opens_local: str | None  # the next opening on the contact's clock, when closed


@dataclass(frozen=True)
class Outcome:
    """What a decision led to, as the page says it."""

    kind: str  # "sent", "sending", "scheduled", "rejected", "withdrawn"
    text: str


def clock_of(review: ReviewPublic, *, policy: Policy, now: dt.datetime) -> Clock:
    verdict, opens = send_window_verdict(
        now, contact_timezone=review.contact_timezone, policy=policy
    )
    zone = ZoneInfo(str(verdict.detail["timezone"]))
    return Clock(
        local=wall_clock(now, zone),
        zone=zone.key,
        fallback=bool(verdict.detail["timezone_fallback"]),
        window=str(verdict.detail["window"]),
        open=verdict.passed,
        opens_local=wall_clock(opens, zone) if opens else None,
    )


def wall_clock(instant: dt.datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def waited(since: dt.datetime, *, now: dt.datetime) -> str:
    """`since` as an age: "just now", "12 min", "3 h 5 min", "2 d 4 h"."""
    seconds = max(0, int((now - since).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 1:
        return "just now"
    if hours < 1:
        return f"{minutes} min"
    if days < 1:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h" if hours % 24 else f"{days} d"


def snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"


def reason_words(review: ReviewPublic) -> str:
    return explain_reason(review.reason)


def blocked_words(review: ReviewPublic) -> list[str]:
    """What blocked the draft, a sentence each (the injection flag is the reason's)."""
    return [explain_violation(v) for v in review.violations if v.get("check") != "injection"]


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "none", code or "unknown")


def filter_label(kind: str) -> str:
    return kind_label(kind)


def kind_of(review: ReviewPublic) -> str:
    return reason_kind(review.reason)


def outcome_of(review: ReviewPublic, *, policy: Policy) -> Outcome:
    """The decision's result as the message stands now."""
    who = f" by {review.reviewer}" if review.reviewer else ""
    state = review.message_state
    if review.status == "rejected":
        return Outcome("rejected", f"Rejected{who}: nothing was sent to the customer.")
    if review.status != "approved":
        return Outcome(review.status, f"This review is {review.status}.")
    if state == MessageState.sent:
        return Outcome("sent", f"Approved{who} and sent to the customer.")
    if state == MessageState.scheduled and review.send_at is not None:
        clock = clock_of(review, policy=policy, now=review.send_at)
        return Outcome(
            "scheduled",
            f"Approved{who}; scheduled for the send window: it leaves at {clock.local} "
            f"({clock.zone}), the contact's time.",
        )
    if state in (MessageState.drafted, MessageState.scheduled):
        return Outcome("sending", f"Approved{who}; the reply is on its way to the customer.")
    if state == MessageState.no_reply:
        return Outcome(
            "withdrawn", f"Approved{who}, then withdrawn: the customer wrote again meanwhile."
        )
    return Outcome(str(state), f"Approved{who}; the message is now {state}.")
