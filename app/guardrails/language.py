"""Check that a draft is written in the customer's language (lingua).

Before detection the draft loses what is not language: links, e-mail addresses,
numbers, amounts and the business's name (an English brand name in a Spanish sign-off
is not English). A draft with fewer letters left than the policy's
`reply_language_min_letters` is not judged; otherwise it fails when another language
is the most likely one by a clear margin (`MARGIN`), so a Spanish reply with a course
name in English passes and an English reply to a Spanish customer does not. Each long
enough paragraph is judged too: a Spanish greeting does not carry an English body.
"""

from __future__ import annotations

import re

from app.guardrails.langdetect import detect, supported
from app.guardrails.links import find_links
from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "language"
MARGIN = 0.3
# Within one whitespace-free token: words with a digit, and anything not a word.
_NOISE = re.compile(r"(?<!\w)\w*\d\w*|[^\w]|_")
_LETTER = re.compile(r"[^\W\d_]")


def _language_token(token: str) -> str:
    if "@" in token or "://" in token or "www." in token.lower():
        return ""  # an e-mail address or a link
    return _NOISE.sub(" ", token)


def language_text(text: str, *, policy: Policy) -> str:
    """The words of `text` that say which language it is in. Token by token, so the
    time is linear in the text's length whatever it holds."""
    for name in (policy.business.name, *policy.guardrails.language_ignore, *find_links(text)):
        if name:
            text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
    return " ".join(" ".join(_language_token(t) for t in text.split()).split())


# What lingua reads of a long text: its start and its end (a reply is far shorter; a
# longer one is blocked by the length check anyway), so detection time is bounded.
SAMPLE_CHARS = 1000


def _sample(words: str) -> str:
    if len(words) <= 2 * SAMPLE_CHARS:
        return words
    return f"{words[:SAMPLE_CHARS]} {words[-SAMPLE_CHARS:]}"


def _wrong(words: str, language: str) -> tuple[bool, dict[str, object]]:
    found = detect(_sample(words))
    expected_score = found.scores.get(language, 0.0)
    wrong = found.language not in (None, language) and found.confidence - expected_score >= MARGIN
    return wrong, {"detected": found.language, "scores": found.scores}


def check_language(text: str, *, policy: Policy, language: str | None) -> Verdict:
    """Fail with `wrong_language` when the draft, or a paragraph of it, is clearly not in
    `language`."""
    minimum = policy.guardrails.reply_language_min_letters
    words = language_text(text, policy=policy)
    letters = len(_LETTER.findall(words))
    detail: dict[str, object] = {"expected": language, "letters": letters}
    if language is None or not supported(language) or letters < minimum:
        detail["judged"] = False
        return Verdict(check=CHECK, passed=True, detail=detail)
    wrong, found = _wrong(words, language)
    detail.update(judged=True, **found)
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if not wrong and len(paragraphs) > 1:
        for index, paragraph in enumerate(paragraphs):
            part = language_text(paragraph, policy=policy)
            if len(_LETTER.findall(part)) >= minimum:
                wrong, found = _wrong(part, language)
                if wrong:
                    detail.update(paragraph=index, **found)
                    break
    if wrong:
        return Verdict(check=CHECK, passed=False, reason="wrong_language", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
