"""Runs of Keel's pipeline and of the bare-Celery baseline, measured the same way."""

from __future__ import annotations

import os
import secrets
import statistics
import time
from dataclasses import dataclass, field

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
from bench.stack import REDIS_URL, Stack, cpu_s, machine_busy_s, rss_mb

SETTLED = ("sent", "no_reply", "escalated", "dead", "rejected")


@dataclass
class RunResult:
    messages: int
    seconds: float
    cpu_s: float  # the worker's processes
    machine_s: float = 0.0  # every process on the machine: Postgres, Redis, simulator...
    rss_samples_mb: list[float] = field(default_factory=list)

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


def seed(n: int) -> list[str]:
    """Store n realistic messages (the demo inbox, cycled) as the API would."""
    inbox = load_inbox()
    ids: list[str] = []
    run = secrets.token_hex(3)
    for start in range(0, n, 500):
        with session_scope() as session:
            for i in range(start, min(n, start + 500)):
                raw = dict(inbox[i % len(inbox)])
                raw["external_id"] = f"bench-{run}-{i}"
                message, _ = accept_message(
                    session=session, message_in=MessageIn.model_validate(raw), actor="api"
                )
                ids.append(message.id)
    return ids


def settled_count() -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).where(col(Message.state).in_(SETTLED))).one())


def run_keel(
    stack: Stack, *, n: int, pool: str, concurrency: int, sample_every_s: float = 0.0
) -> RunResult:
    """Seed n messages, start one worker, enqueue them all, wait until every one settled."""
    use_env(stack.env)
    upgrade()
    ids = seed(n)
    worker = stack.start_worker(pool=pool, concurrency=concurrency)
    policy = get_policy()
    cpu_before, machine_before = cpu_s(worker.pid), machine_busy_s()
    started = time.monotonic()
    enqueue_many((("ingest", mid, None) for mid in ids), policy=policy)
    samples: list[float] = []
    next_sample = started
    while settled_count() < n:
        now = time.monotonic()
        if sample_every_s and now >= next_sample:
            samples.append(rss_mb(worker.pid))
            next_sample = now + sample_every_s
        if now - started > 1800:
            raise TimeoutError(f"only {settled_count()} of {n} settled")
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    cpu, machine = cpu_s(worker.pid) - cpu_before, machine_busy_s() - machine_before
    stack.group.stop(worker)
    return RunResult(
        messages=n, seconds=elapsed, cpu_s=cpu, machine_s=machine, rss_samples_mb=samples
    )


def run_baseline(
    stack: Stack, *, n: int, pool: str, concurrency: int, latency_s: float
) -> RunResult:
    """The same number of hops through bare Celery tasks."""
    from bench import baseline

    namespace = f"bench-baseline-{secrets.token_hex(4)}"
    worker = stack.start_worker(
        app="bench.baseline",
        queues="bench",
        pool=pool,
        concurrency=concurrency,
        extra_env={"BENCH_NAMESPACE": namespace, "BENCH_LATENCY_S": str(latency_s)},
    )
    baseline.app.conf.broker_transport_options = {
        "visibility_timeout": 3600,
        "global_keyprefix": f"{namespace}:",
    }
    baseline.app._after_fork()
    counter = redis.Redis.from_url(REDIS_URL)
    cpu_before, machine_before = cpu_s(worker.pid), machine_busy_s()
    started = time.monotonic()
    with baseline.app.producer_or_acquire() as producer:
        for i in range(n):
            baseline.hop.apply_async(args=[f"m-{i}", 0], producer=producer)
    while int(counter.get(f"{namespace}:done") or 0) < n:
        if time.monotonic() - started > 1800:
            raise TimeoutError("baseline did not finish")
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    cpu, machine = cpu_s(worker.pid) - cpu_before, machine_busy_s() - machine_before
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
