"""Classifying the current message in the light of the conversation's earlier turns, the
way a model reading the history would, and still deterministically.

A short follow-up that carries little signal of its own takes the topic of the previous
customer turn ("¿y en reales?" or "and the Spanish one?" after a price question is about
prices); a yes after a reply that quoted a price or offered a place is an enrolment; a
bare "ok" after a reply needs no answer. A message with no history, one with a strong
signal of its own, an injection, and the intents a customer must state themselves
(thanks, complaints, refunds, cancellations, spam) are classified as on their own. The
history is data: an instruction inside an earlier turn only makes that turn carry no
topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from app.simulator.classify import (
    classify,
    currency_named,
    detect_language,
    fold,
    intent_scores,
    is_injection,
    language_scores,
    stable_hash,
)
from app.simulator.conversation import Role, customer_text, history_turns
from app.simulator.pricing import names_product

# Intents about what the school sells: a follow-up may inherit one of these.
TOPICAL_INTENTS = ("pricing", "enrollment", "schedule", "course_info")
# Intents a customer states in so many words; history never turns a message into or out
# of one of these.
OWN_INTENTS = frozenset({"thanks", "spam", "refund_request", "cancellation", "complaint"})
# A message longer than this is a new question, not a follow-up.
FOLLOW_UP_MAX_WORDS = 8

_WORDS = re.compile(r"\w+")
_LEAD = re.compile(r"^\W+")
_CONNECTIVE = re.compile(
    r"(?:y|e|and|also|plus|tambien|tb|tbm|pero|but|entonces|entao|so|then|what about"
    r"|how about|que tal|e quanto|e sobre|and for|y para|e para|e pro)\b"
)
_AFFIRMATIVE = re.compile(
    r"(?:si+|sip|claro|dale|vale|de acuerdo|listo|me interesa|quiero"
    r"|quisiera|sim|quero|queria|pode ser|bora|fechado|com certeza|isso|yes|yeah|yep|yup"
    r"|sure|please|go ahead|count me in|lets do it|let's do it|i want|i'd like|id like"
    r"|ok(?:ay)?,? (?:si|sim|yes|quiero|quero|please|dale|vamos|bora))\b"
)
_ACKNOWLEDGEMENT = re.compile(
    r"(?:ok(?:ay|ey|i|is)?|okk+|entendido|entendi|entiendo|got it|understood|de acuerdo"
    r"|vale|beleza|blz|ta bom|tudo bem|tudo certo|noted|alright|all right)\W*"
)
# A reply that quoted a price (`450,00 €`, `R$ 2.300,00`, `US$490`) or offered a place.
_PRICE = re.compile(r"(?:€|\$|£|\b(?:eur|brl|usd)\b)\s?\d|\d\s?(?:€|r\$|\$|£|\b(?:eur|brl|usd)\b)")
_OFFER = re.compile(
    r"inscrip|inscric|matricul|sign(?:ing)? ?(?:you )?up|enrol|reserv|plaza|vaga|hold a place"
    r"|book (?:a|your)"
)


def _lead(folded: str) -> str:
    """The folded text without the punctuation and emojis it starts with (`¿y` -> `y`)."""
    return _LEAD.sub("", folded)


def _last_reply(history: Sequence[tuple[Role, str]]) -> str | None:
    """The text of the last turn when Keel or a person wrote it: what the customer answers."""
    if history and history[-1][0] != "customer":
        return history[-1][1]
    return None


def _offers_a_place(reply: str) -> bool:
    """Whether a reply quoted a price or offered a place, so that a yes to it enrols."""
    folded = fold(reply)
    return _PRICE.search(folded) is not None or _OFFER.search(folded) is not None


def _topic(history: Sequence[tuple[Role, str]]) -> str | None:
    """The topical intent of the most recent customer turn that states one; None when the
    most recent one that states anything is a complaint, a refund, a cancellation or spam.
    """
    for role, text in reversed(history):
        if role != "customer":
            continue
        intent = classify(text)[0]
        if intent in TOPICAL_INTENTS:
            return intent
        if intent not in ("other", "thanks"):
            return None
    return None


def _conversation_language(
    text: str, folded: str, language: str, history: Sequence[tuple[Role, str]]
) -> str:
    """The message's own language, or the customer's earlier one when the message has no
    word or letter that marks a language ("si", "ok", "dale")."""
    if any(language_scores(text, folded).values()):
        return language
    for role, earlier in reversed(history):
        if role == "customer" and any(language_scores(earlier).values()):
            return detect_language(earlier)
    return language


def classify_in_context(text: str, history: Sequence[tuple[Role, str]]) -> tuple[str, str, float]:
    """(intent, language, confidence) of the current message given the earlier turns,
    oldest first; exactly `classify(text)` when there are none."""
    intent, language, confidence = classify(text)
    folded = fold(text)
    if not history or is_injection(folded):
        return intent, language, confidence
    language = _conversation_language(text, folded, language, history)
    if intent in OWN_INTENTS or len(_WORDS.findall(folded)) > FOLLOW_UP_MAX_WORDS:
        return intent, language, confidence
    lead = _lead(folded)
    lifted = max(confidence, (76 + stable_hash(text) % 16) / 100)
    reply = _last_reply(history)
    says_yes = intent in ("other", "enrollment") and _AFFIRMATIVE.match(lead) is not None
    if says_yes and reply is not None and _offers_a_place(reply):
        return "enrollment", language, lifted
    scores = intent_scores(folded)
    if max(scores[name] for name in TOPICAL_INTENTS) >= 2:  # a strong signal of its own
        return intent, language, confidence
    if reply is not None and intent == "other" and _ACKNOWLEDGEMENT.fullmatch(lead):
        return "thanks", language, lifted
    if currency_named(folded) is not None:
        return "pricing", language, lifted
    topic = _topic(history)
    if topic is None:
        return intent, language, confidence
    own = {name for name in TOPICAL_INTENTS if scores[name] and name != "course_info"}
    follows_up = _CONNECTIVE.match(lead) is not None or names_product(folded)
    if topic in own or (not own and (follows_up or scores["course_info"] > 0)):
        return topic, language, lifted
    return intent, language, confidence


def classify_answer(user: str) -> str:
    """The JSON object a classifier model would answer for Keel's user turn."""
    intent, language, confidence = classify_in_context(customer_text(user), history_turns(user))
    return json.dumps({"intent": intent, "language": language, "confidence": confidence})
