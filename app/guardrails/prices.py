"""Check that every amount of money in a draft is a catalog price in its currency."""

from __future__ import annotations

from app.guardrails.money import find_amounts
from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "prices"


def check_prices(text: str, *, policy: Policy) -> Verdict:
    """Pass when every amount found equals a catalog price in the same currency.

    Fails with `currency_not_in_catalog` when any amount is in a currency the
    catalog does not sell in, else with `price_not_in_catalog` when any amount
    (or an unreadable number next to a currency) is not a catalog price.
    """
    catalog = policy.guardrails.catalog_amounts()
    amounts = find_amounts(text)
    bad = [
        a for a in amounts if a.value is None or a.value not in catalog.get(a.currency, frozenset())
    ]
    detail: dict[str, object] = {"amounts": [a.label() for a in amounts]}
    if not bad:
        return Verdict(check=CHECK, passed=True, detail=detail)
    detail["bad"] = [a.label() for a in bad]
    foreign = sorted({a.currency for a in bad if a.currency not in catalog})
    if foreign:
        detail["currencies"] = foreign
        return Verdict(check=CHECK, passed=False, reason="currency_not_in_catalog", detail=detail)
    return Verdict(check=CHECK, passed=False, reason="price_not_in_catalog", detail=detail)
