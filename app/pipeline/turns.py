"""The conversation side of the steps (SPEC 11), as `Change`s: withdrawing a message in
favour of another, an opt-out and its confirmation, a contact who opted out earlier."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.conversations import OPT_OUT_CONFIRMATION, OptOut
from app.db.models import Message, MessageState
from app.lifecycle import Step
from app.pipeline.transition import Change, Extra
from app.policy import Policy

MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]


# The messages a withdrawn message answered are answered by the one that answers it.
REPOINT = (
    sa.update(MESSAGES)
    .where(MESSAGES.c.answered_by == sa.bindparam("repoint_from"))
    .values(answered_by=sa.bindparam("repoint_to"))
)


def withdrawn(message: Message, *, reason: str, answered_by: str | None) -> Change:
    """The message ends `no_reply` with `reason`; what it answered now points further on."""
    statements: list[Extra] = []
    if answered_by:
        statements.append(Extra(REPOINT, {"repoint_from": message.id, "repoint_to": answered_by}))
    detail = {"reason": reason, "answered_by": answered_by, "had_draft": bool(message.reply_text)}
    return Change(
        next_step=None,
        updates={
            "state": MessageState.no_reply,
            "reason": reason,
            "answered_by": answered_by,
            "hold_until": None,
            "send_at": None,
        },
        events=[("no_reply", detail)],
        statements=statements,
    )


def opted_out(
    message: Message,
    *,
    opt_out: OptOut,
    withdrawn_ids: list[str],
    policy: Policy,
    guessed_language: str | None = None,
) -> Change:
    """The message opted its contact out: the policy's one-line confirmation goes back
    (checked like any draft), or nothing does. Its language: the contact's locale, else
    the language of the words that opted out ("SAIR" is Portuguese), and only then a
    guess from the text (one word says little)."""
    language = next(
        (
            lang
            for lang in (
                (message.contact_locale or "")[:2].lower(),
                opt_out.language,
                message.language,
                guessed_language,
            )
            if lang and lang in policy.conversations.opt_out_confirmation
        ),
        None,
    )
    confirmation = policy.conversations.opt_out_confirmation.get(language or "")
    event: tuple[str, dict[str, Any]] = (
        "opted_out",
        {"rule": opt_out.rule, "language": opt_out.language, "withdrawn": withdrawn_ids},
    )
    if confirmation:
        return Change(
            next_step=Step.check,
            updates={
                "state": MessageState.drafted,
                "language": language,
                "reply_text": confirmation,
                "reply_provider": "policy",
                "reply_model": OPT_OUT_CONFIRMATION,
                "reason": OPT_OUT_CONFIRMATION,
                "hold_until": None,
            },
            events=[event],
        )
    return Change(
        next_step=None,
        updates={"state": MessageState.no_reply, "reason": "opted_out", "hold_until": None},
        events=[event, ("no_reply", {"reason": "opted_out"})],
    )


def contact_is_opted_out() -> Change:
    """A message from a contact who opted out earlier: nothing goes back."""
    return Change(
        next_step=None,
        updates={"state": MessageState.no_reply, "reason": "opted_out", "hold_until": None},
        events=[("no_reply", {"reason": "opted_out"})],
    )
