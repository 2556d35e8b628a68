"""`GET /metrics`: Prometheus text format, unauthenticated (ids and counts only, no
message data), computed at scrape time by `app.observability.metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.observability.metrics import registry

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Queue depths, messages by state, model calls and cost, guardrail blocks, breakers."""
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
