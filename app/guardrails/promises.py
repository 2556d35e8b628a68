"""Check that a draft makes none of the promises the policy names (guarantees, refunds,
"free", dates), per language: accent- and case-insensitive, at word boundaries, plurals
included. Every language's phrases are searched, the reply's own first: a Spanish reply
that slips into "money back" still promises a refund."""

from __future__ import annotations

import re
from functools import lru_cache

from app.guardrails.text import fold, phrase_pattern
from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "promises"


@lru_cache(maxsize=32)
def _compiled(
    phrases: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[re.Pattern[str], list[tuple[str, str, re.Pattern[str]]]]:
    """One pattern for any phrase (most drafts have none: one pass), and one per phrase."""
    each = [
        (language, phrase, phrase_pattern(phrase))
        for language, group in phrases
        for phrase in group
        if phrase.strip()
    ]
    anyone = re.compile("|".join(pattern for _, _, pattern in each) or "(?!)")
    return anyone, [(lang, phrase, re.compile(pattern)) for lang, phrase, pattern in each]


def check_promises(text: str, *, policy: Policy, language: str | None) -> Verdict:
    """Fail with `promise` when any policy phrase appears; detail lists the phrases."""
    by_language = policy.guardrails.promises
    order = sorted(by_language, key=lambda lang: (lang != language, lang))
    anyone, patterns = _compiled(tuple((lang, tuple(by_language[lang])) for lang in order))
    folded = fold(text)
    found = []
    if anyone.search(folded):
        found = [f"{lang}:{phrase}" for lang, phrase, pattern in patterns if pattern.search(folded)]
    detail: dict[str, object] = {"language": language, "phrases": found}
    if found:
        return Verdict(check=CHECK, passed=False, reason="promise", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
