"""Building the FastAPI app; settings are read when the app is created, not at import."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.conversations import router as conversations_router
from app.api.errors import install_error_handlers
from app.api.guard import RequestGuard
from app.api.metrics_route import metrics_router
from app.api.outcomes import router as outcomes_router
from app.api.page import STATIC_DIR
from app.api.page import router as page_router
from app.api.reviews import router as reviews_router
from app.api.routes import router
from app.api.tracing import TracingMiddleware
from app.config import get_settings
from app.errors import ConfigError
from app.observability import init_sentry, setup_logging
from app.observability.tracing import init_tracing
from app.policy import get_policy

MAX_BATCH_BYTES = 8 * 1024 * 1024


def create_app() -> FastAPI:
    settings = get_settings()
    setup_logging("web")
    init_sentry("web")
    api = FastAPI(
        title="Keel ingress API",
        version="0.1.0",
        description="Accepts customer messages for classification, drafting, checks and delivery.",
    )
    install_error_handlers(api)
    api.include_router(router)
    api.include_router(reviews_router)
    api.include_router(conversations_router)
    api.include_router(outcomes_router)
    api.include_router(page_router)
    api.mount("/review/static", StaticFiles(directory=STATIC_DIR), name="review-static")
    api.include_router(metrics_router(settings))
    api.add_middleware(
        RequestGuard,
        api_keys=lambda: get_settings().api_keys,
        reviewer_keys=lambda: get_settings().reviewer_keys,
        max_body_bytes=settings.keel_max_body_bytes,
        max_batch_bytes=MAX_BATCH_BYTES,
    )
    if init_tracing("web"):
        api.add_middleware(TracingMiddleware)  # outermost: refused requests are traced too
    return api


class _LazyApp:
    """`uvicorn app.api:app` target: builds the app at startup, after the environment is
    read, and refuses to start with one clear line when a setting or the policy is bad."""

    _app: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            try:
                get_policy()
                self._app = create_app()
            except ConfigError as exc:
                if scope["type"] == "lifespan":
                    await receive()
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                raise
        await self._app(scope, receive, send)


app = _LazyApp()
