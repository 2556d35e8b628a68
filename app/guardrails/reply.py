"""Every check a reply passes before it may leave, whoever wrote it: the blocking
output checks, then the contact's send window. The check step and a reviewer's
approval both ask this one function."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.guardrails.draft import check_draft
from app.guardrails.verdict import Verdict, blocked
from app.guardrails.window import send_window_verdict
from app.policy import Policy


@dataclass(frozen=True)
class ReplyEvaluation:
    """The verdicts on a reply and when it may be sent."""

    verdicts: list[Verdict]  # the output checks, in order
    window: Verdict
    send_at: dt.datetime | None  # None: now; else the send window's next opening

    @property
    def failing(self) -> list[Verdict]:
        return blocked(self.verdicts)

    @property
    def all_verdicts(self) -> list[Verdict]:
        return [*self.verdicts, self.window]


def evaluate_reply(
    text: str,
    *,
    policy: Policy,
    channel: str,
    language: str | None,
    contact_timezone: str | None,
    now: dt.datetime,
) -> ReplyEvaluation:
    """Run the output checks on `text` and place it in the contact's send window."""
    verdicts = check_draft(text, policy=policy, channel=channel, language=language)
    window, send_at = send_window_verdict(now, contact_timezone=contact_timezone, policy=policy)
    return ReplyEvaluation(verdicts=verdicts, window=window, send_at=send_at)
