"""Text normalisation shared by the checks: accent- and case-free, invisible characters out."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Zero-width characters, soft hyphens, bidi controls and the BOM: invisible, used to
# split a trigger word so a naive matcher misses it.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff]"
)
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")
# Cyrillic and Greek letters that look like Latin ones.
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅαοτνκΑΒΕΗΙΚΜΝΟΡΤΧΥΖ",
    "aeopcyxijsdqwABEKMHOPCTXIJSaotvkABEHIKMNOPTXYZ",
)


@lru_cache(maxsize=1024)
def fold(text: str) -> str:
    """Lower case, no accents, no invisible characters, look-alike letters made Latin,
    spaces collapsed (lines kept): `Ígnôra  LAS instrucciones` -> `ignora las instrucciones`."""
    text = INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_HOMOGLYPHS)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _BLANK_LINES.sub("\n", _SPACES.sub(" ", stripped)).strip()


def phrase_pattern(phrase: str) -> str:
    """A regex for a folded phrase, at word boundaries, any whitespace between its words,
    an optional plural ending (`reembolso` finds `reembolsos`, not `reembolsable`)."""
    words = [re.escape(w) for w in fold(phrase).split()]
    return r"(?<!\w)" + r"\s+".join(words) + r"(?:s|es)?(?!\w)"
