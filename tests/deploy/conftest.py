"""Fixtures for the deployment-shape tests: a TLS Redis like Heroku's, a lesser Postgres
login role like a Heroku Postgres credential, and a clean settings/Redis-client cache
around every environment change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import reset_settings
from app.db import reset_engines
from app.state import reset_redis
from tests.deploy.pg_roles import AppRole, login_role
from tests.tls_redis import TlsRedis, running_tls_redis


@pytest.fixture(scope="session")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """One TLS-only redis-server with a self-signed certificate and a password, per run."""
    directory: Path = tmp_path_factory.mktemp("tls-redis")
    with running_tls_redis(directory) as server:
        yield server


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """Settings and Redis clients re-read from the environment before and after the test."""
    reset_settings()
    reset_redis()
    yield
    reset_settings()
    reset_redis()


@pytest.fixture
def app_role(pg_url: str) -> Iterator[AppRole]:
    """A login role with no privileges yet on this test's database (KEEL_APP_DATABASE_URL
    material); engines are dropped before the role is."""
    with login_role(pg_url) as role:
        yield role
        reset_engines()
