"""The HTTP request's span: a pure ASGI middleware, installed only with trace export on.

Each request (but health checks, `/metrics` and the docs) is a SERVER span continuing the
caller's `traceparent`; a message accepted in it opens its own `keel.message` span there
(`app.observability.tracing`). Attributes are the method, the route's template and the
status code: no query string, no body, no headers.
"""

from __future__ import annotations

from typing import Any

from app.observability import tracing

UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"})


class TracingMiddleware:
    """Wraps each traced request in `tracing.request_span`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers", [])
            if key in (b"traceparent", b"tracestate")
        }
        status: dict[str, int] = {}

        async def send_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        attributes = {"http.request.method": method}
        with tracing.request_span(method, carrier=carrier, attributes=attributes) as span:
            await self.app(scope, receive, send_status)
            if span is not None:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if "code" in status:
                    span.set_attribute("http.response.status_code", status["code"])
                    if status["code"] >= 500:
                        from opentelemetry.trace import Status, StatusCode

                        span.set_status(Status(StatusCode.ERROR))
