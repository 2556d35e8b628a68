"""Runs of Keel's pipeline and of the bare-Celery baseline, measured the same way."""

from __future__ import annotations

import os
import secrets
import statistics
import time
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

import httpx
import redis
from sqlmodel import col, func, select

from app.broker import enqueue_many
from app.config import reset_settings
from app.db import reset_engines, session_scope
from app.db.migrate import upgrade
from app.db.models import Message
from app.demo.run import load_inbox
from app.pipeline.intake import accept_message
from app.pipeline.schemas import MessageIn
from app.policy import get_policy
from app.providers import reset_clients
from app.state import reset_redis
from bench.stack import REDIS_URL, Stack, cpu_s, machine_busy_s, peer_ports, pss_mb, rss_mb

SETTLED = ("sent", "no_reply", "escalated", "dead", "rejected")


@dataclass
class RunResult:
    messages: int
    seconds: float
    cpu_s: float  # the worker's processes
    machine_s: float = 0.0  # every process on the machine: Postgres, Redis, simulator...
    rss_samples_mb: list[float] = field(default_factory=list)  # summed over the tree
    pss_samples_mb: list[float] = field(default_factory=list)  # shared pages once
    # Most connections the worker held at once to Redis and to Postgres (sampled).
    peak_redis_connections: int = 0
    peak_postgres_connections: int = 0
    model_calls: int = 0  # Keel: the calls the simulator answered during the run
    states: dict[str, int] = field(default_factory=dict)  # Keel: messages by final state

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_ms_per_message(self) -> float:
        return 1000 * self.cpu_s / self.messages

    @property
    def machine_ms_per_message(self) -> float:
        return 1000 * self.machine_s / self.messages


def use_env(env: dict[str, str]) -> None:
    os.environ.update(env)
    reset_settings()
    reset_engines()
    reset_clients()
    reset_redis()
    from app.broker import refresh_broker

    refresh_broker()


def seed(n: int, *, distinct_contacts: bool = False) -> list[str]:
    """Store n realistic messages (the demo inbox, cycled) as the API would.

    Cycled copies keep their contact and conversation, so past the inbox's 349 messages
    most are superseded by a newer one of their conversation and need no reply; with
    `distinct_contacts` every copy (and every call's) is a new contact's, and the mix of
    replies, escalations and no-replies stays the inbox's own."""
    inbox = load_inbox()
    ids: list[str] = []
    run = secrets.token_hex(3)
    for start in range(0, n, 500):
        with session_scope() as session:
            for i in range(start, min(n, start + 500)):
                raw = dict(inbox[i % len(inbox)])
                raw["external_id"] = f"bench-{run}-{i}"
                if distinct_contacts:
                    tag = f"{run}-{i // len(inbox)}"  # new contacts per call and per copy
                    contact = cast(dict[str, object], raw["contact"])
                    raw["contact"] = {**contact, "id": f"{contact['id']}-{tag}"}
                    if raw.get("conversation_id"):
                        raw["conversation_id"] = f"{raw['conversation_id']}-{tag}"
                message, _ = accept_message(
                    session=session, message_in=MessageIn.model_validate(raw), actor="api"
                )
                ids.append(message.id)
    return ids


def settled_count() -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).where(col(Message.state).in_(SETTLED))).one())


def run_keel(
    stack: Stack,
    *,
    n: int,
    pool: str | None = None,
    concurrency: int | None = None,
    procfile_env: dict[str, str] | None = None,
    sample_every_s: float = 0.0,
    distinct_contacts: bool = False,
) -> RunResult:
    """Seed n messages, start one worker, enqueue them all, wait until every one settled.

    The worker runs with `pool` and `concurrency`, or without them as the Procfile runs
    it (its defaults, or the variables in `procfile_env`)."""
    use_env(stack.env)
    upgrade()
    ids = seed(n, distinct_contacts=distinct_contacts)
    if pool is None or concurrency is None:
        worker = stack.start_procfile("worker", extra_env=procfile_env)
    else:
        worker = stack.start_worker(pool=pool, concurrency=concurrency)
    policy = get_policy()
    calls_before = _simulator_calls(stack)
    cpu_before, machine_before = cpu_s(worker.pid), machine_busy_s()
    started = time.monotonic()
    enqueue_many((("ingest", mid, None) for mid in ids), policy=policy)
    samples: list[float] = []
    pss_samples: list[float] = []
    peak_redis = peak_postgres = 0
    redis_port = urlsplit(REDIS_URL).port or 6379
    postgres_port = urlsplit(stack.env["DATABASE_URL"]).port or 5432
    next_sample = started
    while settled_count() < n:
        now = time.monotonic()
        if sample_every_s and now >= next_sample:
            samples.append(rss_mb(worker.pid))
            pss_samples.append(pss_mb(worker.pid))
            ports = peer_ports(worker.pid)
            peak_redis = max(peak_redis, ports[redis_port])
            peak_postgres = max(peak_postgres, ports[postgres_port])
            next_sample = now + sample_every_s
        if now - started > 1800:
            raise TimeoutError(f"only {settled_count()} of {n} settled")
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    cpu, machine = cpu_s(worker.pid) - cpu_before, machine_busy_s() - machine_before
    stack.group.stop(worker)
    calls = _simulator_calls(stack) - calls_before
    with session_scope() as session:
        rows = session.exec(select(Message.state, func.count()).group_by(col(Message.state)))
        states = {str(state): int(count) for state, count in rows}
    return RunResult(
        model_calls=calls,
        states=states,
        messages=n,
        seconds=elapsed,
        cpu_s=cpu,
        machine_s=machine,
        rss_samples_mb=samples,
        pss_samples_mb=pss_samples,
        peak_redis_connections=peak_redis,
        peak_postgres_connections=peak_postgres,
    )


def _simulator_calls(stack: Stack) -> int:
    """Model calls the simulator has answered so far."""
    return int(httpx.get(f"{stack.sim_url}/_sim/stats", timeout=10).json()["total"])


def run_baseline(
    stack: Stack, *, n: int, pool: str, concurrency: int, latency_s: float, processes: int = 1
) -> RunResult:
    """The same number of hops through bare Celery tasks, in `processes` workers."""
    from bench import baseline

    namespace = f"bench-baseline-{secrets.token_hex(4)}"
    workers = [
        stack.start_worker(
            app="bench.baseline",
            queues="bench",
            pool=pool,
            concurrency=concurrency,
            extra_env={"BENCH_NAMESPACE": namespace, "BENCH_LATENCY_S": str(latency_s)},
        )
        for _ in range(processes)
    ]
    baseline.app.conf.broker_transport_options = {
        "visibility_timeout": 3600,
        "global_keyprefix": f"{namespace}:",
    }
    baseline.app._after_fork()
    counter = redis.Redis.from_url(REDIS_URL)
    cpu_before = sum(cpu_s(w.pid) for w in workers)
    machine_before = machine_busy_s()
    started = time.monotonic()
    with baseline.app.producer_or_acquire() as producer:
        for i in range(n):
            baseline.hop.apply_async(args=[f"m-{i}", 0], producer=producer)
    while int(counter.get(f"{namespace}:done") or 0) < n:
        if time.monotonic() - started > 1800:
            raise TimeoutError("baseline did not finish")
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    cpu = sum(cpu_s(w.pid) for w in workers) - cpu_before
    machine = machine_busy_s() - machine_before
    for worker in workers:
        stack.group.stop(worker)
    for key in counter.scan_iter(match=f"{namespace}:*"):
        counter.delete(key)
    return RunResult(messages=n, seconds=elapsed, cpu_s=cpu, machine_s=machine)


def growth(samples: list[float]) -> float | None:
    """Relative growth of the mean of the last quarter over the first quarter."""
    if len(samples) < 8:
        return None
    quarter = len(samples) // 4
    first = statistics.mean(samples[:quarter])
    last = statistics.mean(samples[-quarter:])
    return (last - first) / first
