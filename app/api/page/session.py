"""The review page's session: a signed cookie holding who signed in and the CSRF token.

The cookie is `HttpOnly`, `SameSite=Strict`, scoped to `/review`, and `Secure` unless
the page is served on a loopback host (a developer's `http://127.0.0.1`). It is signed
(itsdangerous, HMAC-SHA256) with a key derived from every configured reviewer key, so
changing `KEEL_REVIEWER_KEYS` signs everyone out, and a session older than
`SESSION_MAX_AGE_S` is ignored. Every visitor gets one, signed in or not: the sign-in
form carries a CSRF token too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.config import is_loopback_host

COOKIE = "keel_review"
COOKIE_PATH = "/review"
SESSION_MAX_AGE_S = 12 * 3600  # one working day
_SALT = "keel-review-session"


@dataclass(frozen=True)
class PageSession:
    """A visitor's session: the CSRF token of its forms and, once signed in, the name of
    the reviewer key used."""

    csrf: str
    reviewer: str | None = None
    fresh: bool = False  # made for this request: its cookie must be set

    @classmethod
    def new(cls, reviewer: str | None = None) -> PageSession:
        """A session with a new CSRF token: for a new visitor, and at each sign-in."""
        return cls(csrf=secrets.token_urlsafe(32), reviewer=reviewer, fresh=True)

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf.encode(), str(presented).encode())


def _serializer(reviewers: dict[str, str]) -> URLSafeTimedSerializer:
    material = "\0".join(f"{name}:{token}" for name, token in sorted(reviewers.items()))
    key = hashlib.sha256(f"{_SALT}\0{material}".encode()).hexdigest()
    return URLSafeTimedSerializer(key, salt=_SALT)


def load_session(request: Request, reviewers: dict[str, str]) -> PageSession:
    """The visitor's session from its cookie, or a new anonymous one (a missing, forged,
    expired cookie, or one naming a reviewer no longer configured)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return PageSession.new()
    try:
        data = _serializer(reviewers).loads(raw, max_age=SESSION_MAX_AGE_S)
    except BadSignature:  # SignatureExpired is one too
        return PageSession.new()
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return PageSession.new()
    reviewer = data.get("r")
    if reviewer is not None and reviewer not in reviewers:
        return PageSession.new()
    return PageSession(csrf=data["c"], reviewer=reviewer)


def save_session(
    response: Response, session: PageSession, *, request: Request, reviewers: dict[str, str]
) -> None:
    """Set the session cookie on `response` when the session is new."""
    if not session.fresh:
        return
    value = _serializer(reviewers).dumps({"c": session.csrf, "r": session.reviewer})
    response.set_cookie(
        COOKIE,
        value,
        path=COOKIE_PATH,
        httponly=True,
        secure=not is_loopback_host(request.url.hostname),
        samesite="strict",
    )


def end_session(response: Response, *, request: Request) -> None:
    """Remove the session cookie (signing out)."""
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        secure=not is_loopback_host(request.url.hostname),
        samesite="strict",
    )
