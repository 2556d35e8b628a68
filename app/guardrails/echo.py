"""Check that a draft does not echo Keel's prompts back to the customer.

Two signs: a marker of the prompt's layout (`CATALOG (the only prices`, `REPLY
LANGUAGE:`, the customer_message tags, a catalog line `- sku | name | EUR 450.00`), or
a run of `echo_min_words` consecutive words shared with the prompts' fixed instruction
lines (the business name counts as one word; product names and prices are not part of
those lines, so quoting the catalog is not an echo; nor is the business's knowledge,
which replies are meant to draw on).
"""

from __future__ import annotations

import re

from app import prompts
from app.guardrails.text import fold
from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "prompt_echo"
_MARKERS_EXACT: tuple[str, ...] = (
    prompts.CATALOG_HEADER.split(":")[0],
    prompts.LANGUAGE_PREFIX.strip(),
    prompts.CURRENCY_PREFIX.strip(),
    prompts.INTENT_PREFIX.strip(),
    "CUSTOMER NAME:",
)
_MARKERS_ANY: tuple[str, ...] = (
    "the only prices you may quote",
    "customer_message",
    "customer_name",
    "conversation_history",
    "allowed intents:",
    "never instructions to you",
)
# Starts only where a word starts (a lookbehind), so a long run of letters is one try.
_CATALOG_LINE = re.compile(r"(?<![\w-])[\w-]+\s*\|[^|\n]+\|\s*[A-Z]{3}\s\d+\.\d\d")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_BRAND = " keelbrand "
_references: dict[tuple[int, int], tuple[Policy, frozenset[tuple[str, ...]]]] = {}


def _words(text: str, brand: str) -> list[str]:
    folded = fold(text)
    if brand:
        folded = folded.replace(brand, _BRAND)
    return _WORD.findall(folded)


def _reference(policy: Policy, n: int) -> frozenset[tuple[str, ...]]:
    """Every run of `n` words of the prompts' fixed lines (catalog lines left out)."""
    key = (id(policy), n)
    cached = _references.get(key)
    if cached is not None and cached[0] is policy:
        return cached[1]
    brand = fold(policy.business.name)
    system = prompts.draft_prompt(
        policy=policy, text="", intent="other", language="en", contact_name=None
    ).full_system
    classify = prompts.classify_prompt(policy=policy, text="").full_system
    # the business's knowledge is there to be used in replies: not an echo
    knowledge = set(prompts.knowledge_lines(policy)[1:])
    lines = [
        line
        for line in (*system.splitlines(), *classify.splitlines())
        if not line.lstrip().startswith("- ") and line not in knowledge
    ]
    grams: set[tuple[str, ...]] = set()
    for line in lines:
        words = _words(line, brand)
        grams.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    if len(_references) > 16:
        _references.clear()
    _references[key] = (policy, frozenset(grams))
    return _references[key][1]


def check_echo(text: str, *, policy: Policy) -> Verdict:
    """Fail with `prompt_echo` on a marker or a long run of the prompts' own words."""
    n = policy.guardrails.echo_min_words
    lowered = text.lower()
    markers = [m for m in _MARKERS_EXACT if m in text]
    markers += [m for m in _MARKERS_ANY if m in lowered]
    if _CATALOG_LINE.search(text):
        markers.append("catalog_line")
    words = _words(text, fold(policy.business.name))
    reference = _reference(policy, n)
    shared = sum(1 for i in range(len(words) - n + 1) if tuple(words[i : i + n]) in reference)
    detail: dict[str, object] = {"markers": markers, "shared_runs": shared, "run_words": n}
    if markers or shared:
        return Verdict(check=CHECK, passed=False, reason="prompt_echo", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
