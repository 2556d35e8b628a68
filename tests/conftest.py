"""Real services for every test: a Postgres database and a Redis namespace of its own.

Postgres and Redis must answer (CI starts them); a missing service fails the run,
it is never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql

from app.config import reset_settings
from app.db import reset_engines
from app.db.migrate import upgrade
from app.providers import reset_clients
from tests.helpers import (
    API_KEY,
    REDIS_URL,
    REVIEWER_KEY,
    REVIEWER_NAME,
    always_open_policy,
    no_coalescing,
    no_local_tier,
)

PG_ADMIN_DSN = os.environ.get("KEEL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{dbname}"


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """One migrated database per test run; every test copies it."""
    name = f"keel_tpl_{uuid.uuid4().hex[:10]}"
    _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    upgrade(_pg_url(name))
    reset_engines()
    yield name
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated Postgres database for this test alone."""
    name = f"keel_t_{uuid.uuid4().hex[:12]}"
    _admin(
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(pg_template)
        )
    )
    yield _pg_url(name)
    reset_engines()
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'keel.db'}"


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A Redis key prefix for this test alone; its keys are deleted afterwards."""
    namespace = f"keel-test-{uuid.uuid4().hex[:12]}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{namespace}:*", count=1000):
        client.delete(key)
    client.close()


def _apply_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in ("KEEL_WEBHOOK_URL", "KEEL_WEBHOOK_SECRET", "KEEL_POLICY", "SENTRY_DSN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    reset_engines()
    reset_clients()
    from app.broker import refresh_broker

    refresh_broker()


@pytest.fixture
def keel_env(
    monkeypatch: pytest.MonkeyPatch,
    pg_url: str,
    redis_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    """Environment for Keel in this process (and for children it starts); the policy is
        the bundled one without the burst quiet period (see `helpers.no_coalescing`) and without
    the local tier (`helpers.no_local_tier`)."""
    from app.policy import BUNDLED_POLICY_PATH

    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    policy.write_text(no_local_tier(no_coalescing(BUNDLED_POLICY_PATH.read_text("utf-8"))), "utf-8")
    env = {
        "KEEL_POLICY": str(policy),
        "DATABASE_URL": pg_url,
        "REDIS_URL": REDIS_URL,
        "KEEL_NAMESPACE": redis_namespace,
        "KEEL_API_KEYS": API_KEY,
        "KEEL_REVIEWER_KEYS": f"{REVIEWER_NAME}:{REVIEWER_KEY}",
        "ANTHROPIC_API_KEY": "sim-key",
        "OPENAI_API_KEY": "sim-key",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/anthropic",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/openai/v1",
        "KEEL_MODEL_TIMEOUT_S": "5",
        # Workers a test stops exit in seconds, not after the 20 s soft shutdown (the
        # chaos stacks, which test that shutdown, keep the default).
        "KEEL_SOFT_SHUTDOWN_S": "2",
    }
    _apply_env(monkeypatch, env)
    yield env
    reset_settings()
    reset_engines()
    reset_clients()


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str]) -> Iterator[str]:
    """The provider simulator on a free port, with Keel's SDK base URLs pointing at it."""
    from app.simulator.testing import running_simulator

    with running_simulator() as base_url:
        env = {
            "ANTHROPIC_BASE_URL": f"{base_url}/anthropic",
            "OPENAI_BASE_URL": f"{base_url}/openai/v1",
        }
        keel_env.update(env)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_settings()
        reset_clients()
        yield base_url


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str]) -> Iterator[Any]:
    """A webhook receiver that records every POST; Keel's webhook points at it."""
    from app.demo.receiver import WebhookReceiver

    hook = WebhookReceiver(secret="test-secret").start()
    env = {"KEEL_WEBHOOK_URL": hook.url, "KEEL_WEBHOOK_SECRET": hook.secret}
    keel_env.update(env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    yield hook
    hook.stop()


@pytest.fixture
def open_window_policy(
    monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str], tmp_path: Path
) -> str:
    """The bundled policy with its send window always open, so nothing is scheduled."""
    path = always_open_policy(tmp_path)
    keel_env["KEEL_POLICY"] = path
    monkeypatch.setenv("KEEL_POLICY", path)
    reset_settings()
    return path
