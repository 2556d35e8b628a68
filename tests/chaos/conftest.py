"""Fixtures for the fault tests: each test gets a whole private deployment (its own
Postgres cluster and redis-server on free ports, the simulator as a process, a webhook
receiver) so that killing or stopping any part of it touches nothing else."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import reset_settings
from app.db import reset_engines
from app.db.migrate import upgrade
from app.demo import procs
from app.demo.receiver import WebhookReceiver
from app.policy import load_policy
from app.providers import reset_clients
from app.state import reset_redis
from tests.chaos.servers import PrivatePostgres, PrivateRedis
from tests.chaos.stack import ChaosStack, set_policy_values
from tests.helpers import API_KEY, always_open_policy

# The bundled policy, send window always open, with the reconciler and the probes quick
# enough that recovery happens within a test's minute.
CHAOS_POLICY = {
    "stalled_after_s": 8,
    "probe_interval_s": 1,
}
SIM_LATENCY_MS = "0:50"
MODEL_TIMEOUT_S = "5"


def _point_this_process_at(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _reset_clients()


def _reset_clients() -> None:
    reset_settings()
    reset_engines()
    reset_clients()
    reset_redis()
    load_policy.cache_clear()
    from tasks import refresh_broker

    refresh_broker()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def private_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChaosStack]:
    """A private Postgres, Redis, simulator and webhook receiver, migrated and ready;
    workers, beat and the API are started by the test (`start_worker`, ...). Everything
    is stopped afterwards, whatever happened."""
    workdir = Path(tempfile.mkdtemp(prefix="keel-chaos-"))
    group = procs.Processes(workdir)
    receiver = WebhookReceiver(secret=secrets.token_hex(16)).start()
    postgres: PrivatePostgres | None = None
    stack: ChaosStack | None = None
    try:
        postgres = PrivatePostgres()
        postgres.start()
        database_url = postgres.create_database("keel")
        redis = PrivateRedis(group, data_dir=workdir)
        redis.start()
        sim_port = procs.free_port()
        sim_url = f"http://127.0.0.1:{sim_port}"
        policy_path = Path(always_open_policy(workdir))
        set_policy_values(policy_path, **CHAOS_POLICY)
        namespace = f"keel-chaos-{secrets.token_hex(4)}"
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "KEEL_NAMESPACE": namespace,
            "KEEL_API_KEYS": API_KEY,
            "KEEL_POLICY": str(policy_path),
            "KEEL_WEBHOOK_URL": receiver.url,
            "KEEL_WEBHOOK_SECRET": receiver.secret,
            "ANTHROPIC_API_KEY": "sim-key",
            "OPENAI_API_KEY": "sim-key",
            "ANTHROPIC_BASE_URL": f"{sim_url}/anthropic",
            "OPENAI_BASE_URL": f"{sim_url}/openai/v1",
            "KEEL_MODEL_TIMEOUT_S": MODEL_TIMEOUT_S,
        }
        _point_this_process_at(monkeypatch, env)
        child_env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
        child_env.update(env)
        # As the Procfile runs the worker: SIGTERM starts a soft shutdown.
        child_env["REMAP_SIGTERM"] = "SIGQUIT"
        group.start(
            "simulator",
            procs.python_argv(
                "-m", "app.simulator", "--port", str(sim_port), "--latency-ms", SIM_LATENCY_MS
            ),
            child_env,
        )
        upgrade(database_url)
        procs.wait_for_http(f"{sim_url}/_sim/health", timeout_s=60)
        stack = ChaosStack(
            workdir=workdir,
            group=group,
            redis=redis,
            postgres=postgres,
            database_url=database_url,
            namespace=namespace,
            sim_url=sim_url,
            receiver=receiver,
            policy_path=policy_path,
            env=child_env,
        )
        yield stack
    finally:
        # Workers and beat die at once (no soft shutdown to wait for), then the rest.
        pids = [proc.pid for _, proc in group.children]
        for pid in pids:
            _kill_group(pid)
        group.stop_all()
        receiver.stop()
        if stack is not None:
            tracebacks = stack.logs_with_tracebacks()
            if tracebacks:
                print(tracebacks)
        if postgres is not None:
            postgres.destroy()
        _wait_groups_gone(pids)
        shutil.rmtree(workdir, ignore_errors=True)
        monkeypatch.undo()
        _reset_clients()


def _wait_groups_gone(pids: list[int], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
