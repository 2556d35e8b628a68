"""One Redis client per process and URL (re-made after a fork)."""

from __future__ import annotations

import os

import redis

from app.config import get_settings

_clients: dict[tuple[str, int], redis.Redis] = {}


def get_redis() -> redis.Redis:
    url = get_settings().redis_url
    key = (url, os.getpid())
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
    return client


def reset_redis() -> None:
    _clients.clear()
