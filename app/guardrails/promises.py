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


_TOKEN = re.compile(r"\w+")


@lru_cache(maxsize=32)
def _compiled(
    phrases: tuple[tuple[str, tuple[str, ...]], ...],
) -> list[tuple[str, str, frozenset[str], re.Pattern[str]]]:
    """Per phrase: its language, the phrase, the words a text must hold for it to be
    there at all, and its pattern."""
    each = []
    for language, group in phrases:
        for phrase in group:
            words = _TOKEN.findall(fold(phrase))
            if words:
                # the last word may take a plural ending: it is matched by its stem below
                needed = frozenset(words[:-1])
                each.append((language, phrase, needed, re.compile(phrase_pattern(phrase))))
    return each


def _present(needed: frozenset[str], last: str, tokens: frozenset[str]) -> bool:
    return needed <= tokens and bool({last, f"{last}s", f"{last}es"} & tokens)


def check_promises(text: str, *, policy: Policy, language: str | None) -> Verdict:
    """Fail with `promise` when any policy phrase appears; detail lists the phrases.

    The text's words are read once; only a phrase whose every word is among them is
    searched for, so the time is linear in the text whatever it holds."""
    by_language = policy.guardrails.promises
    order = sorted(by_language, key=lambda lang: (lang != language, lang))
    patterns = _compiled(tuple((lang, tuple(by_language[lang])) for lang in order))
    folded = fold(text)
    tokens = frozenset(_TOKEN.findall(folded))
    found = [
        f"{lang}:{phrase}"
        for lang, phrase, needed, pattern in patterns
        if _present(needed, _TOKEN.findall(fold(phrase))[-1], tokens) and pattern.search(folded)
    ]
    detail: dict[str, object] = {"language": language, "phrases": found}
    if found:
        return Verdict(check=CHECK, passed=False, reason="promise", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
