"""Check that every link in a draft points to an allowed domain or one of its subdomains.

Links are full URLs (`https://...`), `www.` hosts and bare domains with a known top-level
domain (`bit.ly/x`, `wa.me/34...`, `pagos-seguros.click`). The host is read after any
`user@` part, so `https://linguaviva.example@evil.co` is evil.co, and a look-alike such
as `linguaviva.example.evil.co` or `evil-linguaviva.example` is foreign.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from app.guardrails.verdict import Verdict
from app.policy.models import Policy

CHECK = "links"

_TLDS = (
    "com|net|org|info|biz|io|ly|me|co|app|dev|xyz|site|online|shop|store|link|click|club|top"
    "|live|tv|cc|ws|gg|to|gl|tk|ml|ga|cf|ru|cn|es|pt|br|mx|ar|cl|uy|pe|ve|ec|bo|py|us|uk|ie"
    "|de|fr|it|eu|nl|be|ch|at|ca|au|in|edu|gov|example|pay|page|web|work|ai|so|sh|st|im"
)
_URL = re.compile(
    # a scheme is short: bounded, so a long run of letters is not rescanned from each one
    r"(?<![a-zA-Z0-9+.-])(?i:[a-z][a-z0-9+.-]{0,31}://|www\.)[^\s<>\"'()\[\]{}]+"
    # A bare domain's top-level domain is lower case: `2026.Es decir` is two sentences.
    rf"|(?<![@\w.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:{_TLDS})\b(?![@-])"
    r"(?:[/:?#][^\s<>\"']*)?"
)
_TRAILING = ".,;:!?)]}'\"»”’"


def find_links(text: str) -> list[str]:
    """Each link in `text`, as written, without trailing punctuation."""
    return [m.group().rstrip(_TRAILING) for m in _URL.finditer(text)]


def host_of(link: str) -> str:
    """The lower-case host of a link, without user info, port or trailing dot."""
    target = link if "://" in link else f"http://{link}"
    try:
        host = urlsplit(target).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def allowed(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def check_links(text: str, *, policy: Policy) -> Verdict:
    """Fail with `foreign_link` when a link's host is not an allowed domain; the detail
    lists hosts, not full links (a link can carry a contact's data)."""
    domains = tuple(d.lower().strip(".") for d in policy.guardrails.allowed_link_domains)
    hosts = [host_of(link) for link in find_links(text)]
    foreign = sorted({h or "?" for h in hosts if not allowed(h, domains)})
    detail: dict[str, object] = {"hosts": sorted(set(hosts)), "foreign": foreign}
    if foreign:
        return Verdict(check=CHECK, passed=False, reason="foreign_link", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
