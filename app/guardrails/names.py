"""The contact's name as it may appear in a greeting (issue 13: customers put
instructions in their WhatsApp name). Whatever the name field holds reaches a prompt only
as a short greeting name, fenced as data, or not at all."""

from __future__ import annotations

import re
import unicodedata

from app.guardrails.injection import screen

MAX_NAME_CHARS = 40
MAX_NAME_WORDS = 4
# letters (any script), marks, apostrophes, hyphens, dots and spaces: what names are made of
_NAME_CHARS = re.compile(r"[^\w\s'’.\-]|[\d_]", re.UNICODE)


def greeting_name(name: str | None) -> str | None:
    """A plain name to greet the contact by, or None: a phone number or an e-mail address
    (WhatsApp shows the number when there is no name), anything the injection screen
    flags, several lines, or text that is more than a name."""
    if not name:
        return None
    if "@" in name or sum(c.isdigit() for c in name) >= 5 or screen(name):
        return None
    lines = [line for line in name.splitlines() if line.strip()]
    if len(lines) != 1:
        return None
    text = "".join(ch for ch in unicodedata.normalize("NFC", lines[0]) if ch.isprintable())
    words = _NAME_CHARS.sub(" ", text).split()
    if not words or len(text) > MAX_NAME_CHARS * 2:
        return None
    if len(words) > MAX_NAME_WORDS:
        words = words[:1]  # a long string of words: greet by the first, if it is a name
    kept = " ".join(words)[:MAX_NAME_CHARS].strip(" .-'’")
    return kept or None
