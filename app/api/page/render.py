"""What every review page response shares: the templates (autoescaped), the security
headers, the session cookie, and the queue's filters in URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.api.page.session import PageSession, save_session
from app.config import get_settings

HERE = Path(__file__).parent
EXPIRED = "The form had expired. Load the page and try again."
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every customer and model text is escaped
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
Text = Annotated[str, Form()]


def reviewers() -> dict[str, str]:
    return get_settings().reviewer_keys


def render(
    request: Request,
    session: PageSession,
    name: str,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = templates.get_template(name).render(
        reviewer=session.reviewer, csrf=session.csrf, **context
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    save_session(response, session, request=request, reviewers=reviewers())
    return response


def redirect(request: Request, url: str, session: PageSession | None = None) -> Response:
    response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
    if session is not None:
        save_session(response, session, request=request, reviewers=reviewers())
    return response


def refused(request: Request, session: PageSession, why: str) -> HTMLResponse:
    return render(request, session, "refused.html", status=403, why=why)


def filters_of(reason: str | None, language: str | None) -> dict[str, str]:
    return {k: v for k, v in (("reason", reason), ("language", language)) if v}


def queue_url(filters: dict[str, str], **extra: object) -> str:
    query = urlencode({**filters, **{k: str(v) for k, v in extra.items()}})
    return f"/review?{query}" if query else "/review"


def detail_url(review_id: int, filters: dict[str, str]) -> str:
    query = urlencode(filters)
    return f"/review/{review_id}" + (f"?{query}" if query else "")
