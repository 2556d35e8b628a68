"""One Redis client per process and URL (re-made after a fork)."""

from __future__ import annotations

import os
import threading

import redis

from app.config import get_settings

_clients: dict[tuple[str, str, int], redis.Redis] = {}
_lock = threading.Lock()
# Connections one process's client opens at most: a worker's threads share them, a
# thread waiting (up to 5 s) for a free one rather than opening more. Commands take a
# millisecond, so a few serve a whole worker, and Redis plans cap clients (Heroku
# Key-Value Store: 20 on mini, 40 on premium-0, for every process together).
MAX_CONNECTIONS = 8


def get_redis() -> redis.Redis:
    """This process's client for REDIS_URL, shared by its threads (redis-py's connection
    pool is thread-safe); a `rediss://` URL verifies the server's certificate as
    KEEL_REDIS_TLS_VERIFY says."""
    settings = get_settings()
    url = settings.redis_url
    key = (url, settings.keel_redis_tls_verify, os.getpid())
    client = _clients.get(key)
    if client is not None:
        return client
    with _lock:
        client = _clients.get(key)
        if client is None:
            pool = redis.BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=5,
                socket_timeout=5,
                socket_connect_timeout=5,
                health_check_interval=30,
                **(settings.redis_ssl_options() or {}),
            )
            client = _clients[key] = redis.Redis(connection_pool=pool)
    return client


def reset_redis() -> None:
    """Forget every client (tests point REDIS_URL elsewhere)."""
    _clients.clear()
