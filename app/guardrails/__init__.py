"""Guardrails: deterministic, policy-driven checks on what comes in and what goes out.

Owns every decision about whether a draft may leave (SPEC 3, invariant 4, and the
`guardrails` section of the policy, SPEC 8). On the way in: size, encoding, language
(lingua) and a multilingual prompt-injection screen. On the way out, each its own
module: catalog prices, offers, promises, links, contact data, the reply's language,
echoes of the prompt, length; and whether the contact's local time is inside the send
window (which delays a reply rather than blocking it). Checks are plain functions over
a `Policy` and text, returning `Verdict`s; no model calls, no I/O.
"""

from app.guardrails.contact import check_contact_data
from app.guardrails.draft import CHECKS, check_draft
from app.guardrails.echo import check_echo
from app.guardrails.injection import check_injection
from app.guardrails.inputs import InputReport, check_input
from app.guardrails.language import check_language
from app.guardrails.length import check_length
from app.guardrails.links import check_links
from app.guardrails.names import greeting_name
from app.guardrails.offers import check_offers
from app.guardrails.prices import check_prices
from app.guardrails.promises import check_promises
from app.guardrails.reply import ReplyEvaluation, evaluate_reply
from app.guardrails.verdict import Verdict, blocked
from app.guardrails.window import send_window_verdict

__all__ = [
    "CHECKS",
    "InputReport",
    "ReplyEvaluation",
    "Verdict",
    "blocked",
    "check_contact_data",
    "check_draft",
    "check_echo",
    "check_injection",
    "check_input",
    "check_language",
    "check_length",
    "check_links",
    "check_offers",
    "check_prices",
    "check_promises",
    "evaluate_reply",
    "greeting_name",
    "send_window_verdict",
]
