"""Conversations (SPEC 11): a customer's messages on one channel read as one exchange.

Owns the conversation record, context, bursts, order, handoff, opt-out, reply windows:
what a draft sees of the turns before it, which messages of a burst are answered once,
in which order replies leave, when a person has taken over, when a contact has asked
to hear nothing more, and when a channel's reply window has closed.
"""

from app.conversations.optout import OptOut, detect_opt_out

__all__ = ["OptOut", "detect_opt_out"]
