"""The ingress HTTP API (SPEC 4): `uvicorn app.api:app`.

Owns request validation, bearer auth, the JSON error envelope and the routes that
accept messages, show one message's state and timeline, and report health.
Routes are thin: they validate, call a function in `app/`, and return a public model.
"""

from app.api.main import app, create_app

__all__ = ["app", "create_app"]
