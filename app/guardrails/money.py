"""Finds every monetary amount a person could write in es/pt/en free text.

A regex finds candidate spans only: a currency marker (symbol, ISO code or word)
right before or after a number, plus the bare numbers of a range or list that
share that marker (`entre 320 y 450 €`, `$350-490`). The number itself is read by
price-parser, told which separator is the decimal one from the number's layout:
a separator followed by exactly three digits groups thousands (`1.200`, `2,300`),
one followed by one or two digits is the decimal point (`450,00`, `1,200.50`).
Numbers with no currency next to them (times, dates, `A1`, `60 min`, `10%`,
phone numbers) are never amounts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel.numbers import list_currencies
from price_parser import Price

# ISO 4217 codes that are also everyday upper-case words; too risky next to a number.
_CODE_LOOKALIKES = frozenset({"ALL", "CUP", "MAD", "PEN", "SOS", "TOP", "TRY"})
_ISO_CODES = frozenset(c for c in list_currencies() if re.fullmatch("[A-Z]{3}", c))
_MARKER_CODES = sorted(_ISO_CODES - _CODE_LOOKALIKES)

_SYMBOLS: dict[str, str] = {
    "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY",
    "₱": "PHP", "₪": "ILS", "₫": "VND", "₦": "NGN", "₴": "UAH", "฿": "THB", "₲": "PYG",
    "₡": "CRC", "₵": "GHS", "₸": "KZT", "U$S": "USD",
}  # fmt: skip
# Letters written before "$": `US$`, `R$`, `C$`, ... (an ISO code before "$" is that code).
_DOLLAR_PREFIXES: dict[str, str] = {
    "": "USD", "U": "USD", "US": "USD", "R": "BRL", "C": "CAD", "CA": "CAD", "A": "AUD",
    "AU": "AUD", "NZ": "NZD", "HK": "HKD", "S": "SGD", "MX": "MXN", "COL": "COP",
    "AR": "ARS", "CL": "CLP", "NT": "TWD",
}  # fmt: skip
# Qualifiers that turn "dollars" into another dollar (after normalising accents).
_DOLLAR_QUALIFIERS: tuple[tuple[str, str], ...] = (
    ("canad", "CAD"), ("austral", "AUD"), ("hong kong", "HKD"), ("singapore", "SGD"),
    ("new zealand", "NZD"), ("neozeland", "NZD"),
)  # fmt: skip
_POWERS_OF_TEN: dict[str, int] = {"mil": 3, "k": 3, "thousand": 3, "mi": 6, "mm": 6, "mn": 6,
                                  "m": 6, "bn": 9, "bi": 9}  # fmt: skip

_WS = r"[ \t\u00a0\u202f\u2009]"
_GAP = _WS + "{0,2}"
# Digit runs joined by single separators; a space joins only a group of exactly 3 digits.
_NUMBER = r"\d+(?:(?:[.,]|[ \u00a0\u202f\u2009](?=\d{3}(?![\d%])))\d+)*(?!\d|[.,]\d)"
# Not inside a word (`A1`) or another number (`1.200`, the `200` of `1 200`).
_NUM_START = r"(?<!\w)(?<!\d[.,])(?!(?<=\d[ \u00a0\u202f\u2009])\d{3}(?![\d%]))"
_LEAD_START = r"(?<![\w+])(?<!\d[.,:/ \u00a0\u202f\u2009])"  # nor a time, date or phone
_NOT_LETTER = r"(?![^\W\d_])"

_SYMBOL = r"U\$S|(?<![A-Za-z])[A-Z]{1,3}\$|\$|[" + "".join(k for k in _SYMBOLS if len(k) == 1) + "]"
_CODE = (
    r"(?<![A-Za-z])(?=[A-Za-z]{3}(?![A-Za-z]))(?:"
    + "|".join(_MARKER_CODES)
    + r"|(?i:eur|usd|brl|gbp))"
)
_WORD = (
    r"(?:(?i:canadian|australian|american|u\.?s\.?|hong[ ]kong|singapore|new[ ]zealand)[ ])?"
    r"(?i:euros?|reais|reales|d[oó]lar(?:es)?|dollars?|libras?(?:[ ]esterlinas?)?"
    r"|pounds?(?:[ ]sterling)?|yen(?:es)?|ienes?|pesos?)"
    + _NOT_LETTER
    + r"(?:[ ](?i:canadienses?|canadenses?|australian[oa]s?|neozelandeses?|americanos?"
    r"|estadounidenses?|estadunidenses?|norte-?americanos?)" + _NOT_LETTER + ")?"
)
_MARKER = rf"(?:{_SYMBOL}|{_CODE}|{_WORD})"
_MULT = (
    rf"(?:{_WS}?(?:(?i:mil|k|thousand|mill[oó]n(?:es)?|milh[aã]o|milh[oõ]es|millions?|mi|mm|mn"
    rf"|bn|bi|bill[oó]n(?:es)?|bilh[aã]o|bilh[oõ]es|billions?)|M){_NOT_LETTER}){{1,2}}"
)
_RANGE_WORD = r"(?i:a|to|at[eé]|hasta)" + _NOT_LETTER
_AND_OR = r"(?i:y|e|o|ou|and|or)" + _NOT_LETTER
_LIST_SEP = rf"(?:{_WS}*[-–,]{_WS}*|{_WS}+(?:{_RANGE_WORD}|{_AND_OR}){_WS}+)"
_TRAIL_END = r"(?=[ \t]*(?:[.;:!?)\]\n]|,(?!\d)|$))"

_CANDIDATE = re.compile(
    rf"""
    (?P<pre>{_SYMBOL}|{_CODE}) :? {_GAP} (?P<pnum>{_NUMBER}) (?P<pmult>{_MULT})?
        (?: {_GAP} (?P<post>{_CODE}|{_WORD}) )?
        (?: {_WS}*[-–]{_WS}* (?P<dtrail>{_NUMBER}) (?!{_GAP}(?:{_MULT}|{_MARKER}))
          | {_WS}+{_RANGE_WORD}{_WS}+ (?P<wtrail>{_NUMBER}) {_TRAIL_END}
        )?
    |
    {_NUM_START} (?P<snum>{_NUMBER}) (?P<smult>{_MULT}(?:{_WS}+(?i:de){_NOT_LETTER})?)?
    {_GAP} (?P<suf>{_MARKER})
    """,
    re.VERBOSE,
)
# The bare numbers of a list or range right before an amount: `entre 320 y [450 €]`.
_LEADS = re.compile(rf"{_LEAD_START}(?:{_NUMBER}{_LIST_SEP})+\Z")
_LEADS_REACH = 100  # characters looked back for them; keeps the scan linear
_NUMBER_RE = re.compile(_NUMBER)
_STRICT_NUMBER = re.compile(
    r"\d{1,3}(?P<group>[.,\u00a0\u202f\u2009 ])\d{3}(?:(?P=group)\d{3})*(?:(?P<gdec>[.,])\d{1,2})?"
    r"|\d+(?:(?P<dec>[.,])\d{1,2})?"
)
_LETTERS = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Amount:
    """One amount of money found in a text."""

    value: Decimal | None  # None when the number next to the currency cannot be read
    currency: str  # ISO 4217 code when known, else the marker as written
    number_text: str

    def label(self) -> str:
        """`450 EUR`, `1200.50 USD`; the number as written when it could not be read."""
        if self.value is None:
            return f"{self.number_text} {self.currency}"
        cents = Decimal("0.01")
        if self.value == self.value.to_integral_value():
            shown = self.value.quantize(Decimal(1))
        elif self.value == self.value.quantize(cents):
            shown = self.value.quantize(cents)
        else:
            shown = self.value.normalize()
        return f"{shown:f} {self.currency}"


def find_amounts(text: str) -> list[Amount]:
    """Every amount of money in `text`, in order of appearance."""
    found: list[Amount] = []
    last_end = 0
    for m in _CANDIDATE.finditer(text):
        if m["pre"] is not None:
            currency = _currency(m["pre"])
            if m["post"] is not None:  # `$490 MXN`: the code is more precise than a bare `$`
                after = _currency(m["post"])
                same = m["pre"] == "$" or after == currency
                currency = after if same else f"{currency}/{after}"
            found.append(_amount(m["pnum"], m["pmult"], currency))
            trail = m["dtrail"] or m["wtrail"]
            if trail is not None:
                found.append(_amount(trail, None, currency))
        else:
            currency = _currency(m["suf"])
            reach = max(last_end, m.start() - _LEADS_REACH)
            leads = _LEADS.search(text, reach, m.start())
            if leads is not None:
                for lead in _NUMBER_RE.finditer(leads.group()):
                    found.append(_amount(lead.group(), None, currency))
            found.append(_amount(m["snum"], m["smult"], currency))
        last_end = m.end()
    return found


def _amount(number_text: str, mult: str | None, currency: str) -> Amount:
    value = parse_number(number_text)
    if value is not None and mult:
        value *= Decimal(10) ** _power_of_ten(mult)
    return Amount(value=value, currency=currency, number_text=number_text)


@lru_cache(maxsize=4096)
def parse_number(text: str) -> Decimal | None:
    """The value of `2.300,00`, `1,200.50`, `1.200`, `2 300`; None if the layout is not valid."""
    m = _STRICT_NUMBER.fullmatch(text)
    if m is None:
        return None
    group = m["group"]
    decimal = m["gdec"] or m["dec"]
    if group is not None and decimal == group:
        return None
    hint = decimal or ("," if group == "." else ".")
    return Price.fromstring(text, decimal_separator=hint).amount


def _power_of_ten(mult: str) -> int:
    """`mil` -> 3, `millones de` -> 6, `mil millones` -> 9."""
    power = 0
    for word in _LETTERS.findall(_fold(mult)):
        if word in _POWERS_OF_TEN:
            power += _POWERS_OF_TEN[word]
        elif word.startswith(("mill", "milh")):
            power += 6
        elif word != "de":  # billion, billón, bilhão
            power += 9
    return power


@lru_cache(maxsize=1024)
def _currency(marker: str) -> str:
    if marker in _SYMBOLS:
        return _SYMBOLS[marker]
    if marker.endswith("$"):
        letters = marker[:-1]
        if letters in _DOLLAR_PREFIXES:
            return _DOLLAR_PREFIXES[letters]
        return letters if letters in _ISO_CODES else marker
    if len(marker) == 3 and marker.upper() in _ISO_CODES:
        return marker.upper()
    folded = _fold(marker)
    words = set(_LETTERS.findall(folded))
    if words & {"euro", "euros"}:
        return "EUR"
    if words & {"dolar", "dolares", "dollar", "dollars"}:
        return next((code for key, code in _DOLLAR_QUALIFIERS if key in folded), "USD")
    if words & {"libra", "libras", "pound", "pounds"}:
        return "GBP"
    if words & {"yen", "yenes", "iene", "ienes"}:
        return "JPY"
    if words & {"reais", "reales"}:
        return "BRL"
    return "peso"  # no ISO code: MXN, COP, ARS, CLP, ... all write "pesos"


def _fold(text: str) -> str:
    """Lower case without accents: `Dólares` -> `dolares`."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
