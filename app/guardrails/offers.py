"""Check that a draft offers no discount the policy does not list.

A percentage is an offer when its sentence speaks of a discount (`descuento`,
`desconto`, `discount`, `off`, `promoción`, ...) or it is written as one (`-20%`,
`20% off`, `20% dto`); it must then be one of `discounts_percent`. Other percentages
(`100% online`) are not offers. Deals with no percentage (`2x1`, `half price`,
`leve 2 pague 1`) and an amount of money off (`50 € de descuento`) always block, and
so does a discount named with no listed percentage anywhere in the draft, unless the
draft says there is none (`no tenemos descuentos`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from app.guardrails.money import find_amounts
from app.guardrails.text import fold
from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "offers"

_NUMBER_WORDS = {
    "cinco": 5, "five": 5, "diez": 10, "dez": 10, "ten": 10, "quince": 15, "quinze": 15,
    "fifteen": 15, "veinte": 20, "vinte": 20, "twenty": 20, "veinticinco": 25,
    "vinte e cinco": 25, "twenty-five": 25, "twenty five": 25, "treinta": 30, "trinta": 30,
    "thirty": 30, "cuarenta": 40, "quarenta": 40, "forty": 40, "cincuenta": 50,
    "cinquenta": 50, "fifty": 50,
}  # fmt: skip
_NUMBER_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_PERCENT = re.compile(
    rf"(?P<minus>-\s?)?(?<![\w.,])(?P<num>\d{{1,3}}(?:[.,]\d{{1,2}})?|{_NUMBER_WORD})"
    r"\s?(?:%|por\s?ciento|por\s?cento|percent|per\s?cent)"
    r"(?P<off>\s?(?:off|dto|de dto|menos|less|cheaper|mais barat[oa]|mas barat[oa]))?"
)
_DISCOUNT = re.compile(
    r"\b(?:descuentos?|dto|rebajas?|rebajad[oa]s?|promocion(?:es)?|promos?|cupon(?:es)?"
    r"|oferta especial|precio especial|descontos?|promocao|promocoes|abatimento|cupo[mn]s?"
    r"|preco especial|discounts?|discounted|special offer|special price|coupons?|vouchers?"
    r"|on sale)\b"
)
_DEALS = re.compile(
    r"\b(?:2\s?x\s?1|3\s?x\s?2|4\s?x\s?3|dos por uno|2 por 1|two for one|2 for 1"
    r"|buy one,? get one|bogo"
    r"|leve \d,? pague \d|pague \d,? leve \d|compre \d,? leve \d|mitad de precio|medio precio"
    r"|metade do preco|meio preco|half price|half off|a mitad de precio)\b"
)
_AMOUNT_OFF = re.compile(
    r"(?:\d|[€$£])\s?(?:eur|usd|brl|reais|euros?|dollars?)?\s?off\b"
    r"|\boff (?:the|your|any) (?:price|fee|course|enrolment|enrollment)\b"
)
_NEGATION = re.compile(
    r"\b(?:no|not|nao|sin|sem|nunca|never|ningun[oa]?|nenhum[a]?|none|n't|nor|ni|nem)\b|n't\b"
)
_SENTENCE = re.compile(r"[^.!?\n]+")


def _percent_value(raw: str) -> Decimal | None:
    if raw in _NUMBER_WORDS:
        return Decimal(_NUMBER_WORDS[raw])
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None


def _negated(sentence: str, at: int) -> bool:
    """A negation among the five words before position `at`."""
    before = sentence[:at].split()[-5:]
    return bool(_NEGATION.search(" ".join(before)))


def check_offers(text: str, *, policy: Policy) -> Verdict:
    """Fail with `discount_not_in_policy`, `amount_off` or `unlisted_offer`."""
    allowed = {Decimal(d) for d in policy.guardrails.discounts_percent}
    folded = fold(text)
    offered: list[str] = []
    bad: list[str] = []
    other: list[str] = []
    listed_seen = False
    unnumbered = False
    for sentence_match in _SENTENCE.finditer(folded):
        sentence = sentence_match.group()
        discount = _DISCOUNT.search(sentence)
        percents = list(_PERCENT.finditer(sentence))
        for m in percents:
            value = _percent_value(m["num"])
            label = f"{value}%" if value is not None else m.group().strip()
            if value in allowed:
                offered.append(label)
                listed_seen = True
            elif discount is not None or m["minus"] or m["off"]:
                bad.append(label)
            else:
                other.append(label)
        if _AMOUNT_OFF.search(sentence) and not percents:
            bad.append("amount_off")
        elif discount is not None and not percents and not _negated(sentence, discount.start()):
            if find_amounts(sentence):
                bad.append("amount_off")
            else:
                unnumbered = True
    deals = sorted({m.group() for m in _DEALS.finditer(folded)})
    detail: dict[str, object] = {"offers": offered, "bad": bad, "other_percentages": other}
    if deals:
        detail["deals"] = deals
        return Verdict(check=CHECK, passed=False, reason="unlisted_offer", detail=detail)
    if any(b != "amount_off" for b in bad):
        return Verdict(check=CHECK, passed=False, reason="discount_not_in_policy", detail=detail)
    if bad:
        return Verdict(check=CHECK, passed=False, reason="amount_off", detail=detail)
    if unnumbered and not listed_seen:
        return Verdict(check=CHECK, passed=False, reason="unlisted_offer", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
