"""`/metrics` (Prometheus text, counts only), assembled by `app.observability.metrics`,
served only where an operator asked for it.

- `KEEL_METRICS_KEY` set: `GET /metrics` on the web port with `Authorization: Bearer
  <that key>`; without it or with another, 401. A key of its own, not an API key: the
  scraper's credential can read counts and nothing else.
- `KEEL_METRICS_PORT` set: the same figures on that port, without a key, from a server
  the web process starts with the app and stops with it. Several web processes share
  the port: the first to bind it serves it (with `PROMETHEUS_MULTIPROC_DIR` set, the
  counters of every process on the machine; a worker serves the same port on its own
  machine); keep the port off the public network.
- Neither: no `/metrics` route at all (404), as if it did not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from app.api.errors import error_response
from app.config import Settings
from app.observability.metrics import multiproc_dir, registry, serve_metrics_port


def bearer_matches(authorization: str | None, key: str) -> bool:
    """Whether `Authorization` is `Bearer <key>` (constant-time comparison)."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), key.encode())


def metrics_router(settings: Settings) -> APIRouter:
    """The router to include in the app: the keyed route and/or the port's server.

    Raises:
        ConfigError: PROMETHEUS_MULTIPROC_DIR names no writable directory.
    """
    multiproc_dir()  # checked with or without a route: every counter writes there
    reg = registry()
    port = settings.keel_metrics_port
    router = APIRouter(lifespan=_serve_on_port(reg, port) if port else None)
    key = settings.keel_metrics_key
    if key:

        @router.get("/metrics", include_in_schema=False)
        def metrics(authorization: str | None = Header(default=None)) -> Response:
            """Messages by state, model calls, tokens and cost, guardrail verdicts,
            failovers, parks, step latency; queue depths and breakers read live."""
            if not bearer_matches(authorization, key):
                refused = error_response(401, "unauthorized", "the metrics bearer key is required")
                refused.headers["WWW-Authenticate"] = "Bearer"
                return refused
            return Response(generate_latest(reg), media_type=CONTENT_TYPE_LATEST)

    return router


def _serve_on_port(reg: CollectorRegistry, port: int) -> Any:
    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        server = serve_metrics_port(port, reg)
        try:
            yield
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()

    return lifespan
