"""Conversations (SPEC 11): a customer's messages on one channel read as one exchange.

Owns the conversation record, context, bursts, order, handoff, opt-out, reply windows:
what a draft sees of the turns before it, which messages of a burst are answered once,
in which order replies leave, when a person has taken over, when a contact has asked
to hear nothing more, and when a channel's reply window has closed.
"""

from app.conversations.claim import (
    OPT_OUT_CONFIRMATION,
    Claim,
    ClaimResult,
    claim_delivery,
    release_statement,
)
from app.conversations.optout import OptOut, detect_opt_out
from app.conversations.service import (
    contact_opted_out,
    context_for,
    opt_out_contact,
    read_view,
    take_over_turn,
)
from app.conversations.store import (
    ConversationView,
    conversation_key,
    find_conversation,
    set_handoff,
    set_opted_out,
    touch_on_intake,
)
from app.conversations.turns import Context
from app.conversations.window import reply_window_open, window_closes_at

__all__ = [
    "OPT_OUT_CONFIRMATION",
    "Claim",
    "ClaimResult",
    "Context",
    "ConversationView",
    "OptOut",
    "claim_delivery",
    "contact_opted_out",
    "context_for",
    "conversation_key",
    "detect_opt_out",
    "find_conversation",
    "opt_out_contact",
    "read_view",
    "release_statement",
    "reply_window_open",
    "set_handoff",
    "set_opted_out",
    "take_over_turn",
    "touch_on_intake",
    "window_closes_at",
]
