"""Check that a draft gives out no e-mail address or phone number but the business's own.

Phones are digit runs joined by spaces, dots, hyphens or brackets, with an optional
`+`: `+55 11 91234-5678`, `(11) 91234-5678`, `612 345 678`, `+1 (555) 010-0199`, `555-0199`.
Eight to fifteen digits, or seven written `ddd-dddd`. Not phones: dates (`27/11/2026`,
`2026-11-27`, `27.11.2026`), year ranges (`2025-2026`), times, and amounts next to a
currency (`R$ 2.300.000`). A number is the business's own when its digits equal one of
`own_phones`, with or without the country code.
"""

from __future__ import annotations

import re

from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "contact_data"

_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+(?:@|\s?\(at\)\s?|\s?\[at\]\s?)[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}\b"
)
_PHONE = re.compile(r"(?<![\w+.,/:$€£-])\+?\(?\d[\d \u00a0().\-]{5,22}\d(?![\w%]|[.,/:]\d)")
_DATE = re.compile(
    r"\d{1,2}([./-])\d{1,2}\1\d{2,4}|\d{4}([./-])\d{1,2}\2\d{1,2}"
    r"|(?:19|20)\d\d\s?[-–/]\s?(?:19|20)?\d\d"
)
_SHORT_LOCAL = re.compile(r"\d{3}[-. ]\d{4}")
_CURRENCY_NEAR = re.compile(
    r"(?:[€$£]|\b(?:eur|usd|brl|reais|euros?|d[oó]lar(?:es)?|dollars?)\b)", re.IGNORECASE
)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def find_emails(text: str) -> list[str]:
    return [m.group() for m in _EMAIL.finditer(text)]


def find_phones(text: str) -> list[str]:
    """Every phone number in `text`, as written."""
    found: list[str] = []
    for m in _PHONE.finditer(text):
        candidate = m.group().strip(" \u00a0.-(")
        digits = _digits(candidate)
        if _DATE.fullmatch(candidate.strip("()")):
            continue
        if not (8 <= len(digits) <= 15 or (len(digits) == 7 and _SHORT_LOCAL.fullmatch(candidate))):
            continue
        before = text[max(0, m.start() - 6) : m.start()]
        after = text[m.end() : m.end() + 9]
        if _CURRENCY_NEAR.search(before) or _CURRENCY_NEAR.match(after.lstrip()):
            continue
        found.append(candidate)
    return found


def _own_phone(digits: str, own: list[str]) -> bool:
    return any(
        digits == o or (len(digits) >= 8 and o.endswith(digits)) or digits.endswith(o) for o in own
    )


def check_contact_data(text: str, *, policy: Policy) -> Verdict:
    """Fail with `foreign_email` or `foreign_phone`; the detail counts, never quotes them."""
    own_emails = {e.casefold() for e in policy.business.own_emails}
    own_phones = [d for d in (_digits(p) for p in policy.business.own_phones) if len(d) >= 7]
    emails = find_emails(text)
    phones = find_phones(text)
    bad_emails = [e for e in emails if e.casefold() not in own_emails]
    bad_phones = [p for p in phones if not _own_phone(_digits(p), own_phones)]
    detail: dict[str, object] = {
        "emails": len(emails),
        "phones": len(phones),
        "foreign_emails": len(bad_emails),
        "foreign_phones": len(bad_phones),
    }
    if bad_emails:
        return Verdict(check=CHECK, passed=False, reason="foreign_email", detail=detail)
    if bad_phones:
        return Verdict(check=CHECK, passed=False, reason="foreign_phone", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
