"""One Redis client per process and URL (re-made after a fork)."""

from __future__ import annotations

import os

import redis

from app.config import get_settings

_clients: dict[tuple[str, str, int], redis.Redis] = {}


def get_redis() -> redis.Redis:
    """This process's client for REDIS_URL; a `rediss://` URL verifies the server's
    certificate as KEEL_REDIS_TLS_VERIFY says."""
    settings = get_settings()
    url = settings.redis_url
    key = (url, settings.keel_redis_tls_verify, os.getpid())
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis.Redis.from_url(
            url,
            socket_timeout=5,
            socket_connect_timeout=5,
            health_check_interval=30,
            **(settings.redis_ssl_options() or {}),
        )
    return client


def reset_redis() -> None:
    """Forget every client (tests point REDIS_URL elsewhere)."""
    _clients.clear()
