"""The review page (SPEC 15): `GET /review` on the web process, where staff sign in with a
reviewer key and approve, edit then approve, or reject escalations, and operators see
the dead letters and parked messages.

Server-rendered: Jinja2 templates with autoescaping, one stylesheet, a few lines of
script that the forms do not need. Owns the page's session (a signed cookie with a CSRF
token); decisions go through `app.review`, like the API's and the CLI's.
"""

from pathlib import Path

from fastapi import APIRouter

from app.api.page import escalation, routes

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()
router.include_router(routes.router)
router.include_router(escalation.router)

__all__ = ["STATIC_DIR", "router"]
