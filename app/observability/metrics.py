"""Prometheus figures for `GET /metrics`, computed at scrape time from Redis and the database.

Nothing is counted in-process, so every web process answers the same numbers and a
restart loses nothing. Queue depths are LLENs of kombu's lists (each queue, plus its
priority-suffixed siblings, under the namespace prefix) and the hash of unacked
tasks. Messages by state and dead letters by reason are one GROUP BY each. Model
calls, cost and guardrail blocks are aggregated from the audit table over the last
hour only (gauges, not counters): one query each on the `(action, at)` index, cheap
at any table size, and nothing extra to maintain on the hot path. Breaker states
come from the breakers' Redis hashes; none is fine. A source that does not answer
reports `keel_metrics_source_up 0` instead of failing the scrape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import redis
import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlmodel import col

from app.broker import ALL_QUEUES
from app.config import get_settings
from app.db import session_scope
from app.db.models import AuditEvent, DeadLetter, Message, MessageState
from app.state import Keys, get_redis

WINDOW = dt.timedelta(hours=1)
# kombu's Redis transport: priority N > 0 of queue Q lives in the list "Q\x06\x16N".
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)
KOMBU_UNACKED = "unacked"
BREAKER_STATES = ("closed", "open", "half_open")


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class KeelCollector(Collector):
    """Reads every figure afresh on each scrape."""

    def __init__(self, *, window: dt.timedelta = WINDOW) -> None:
        self.window = window

    def describe(self) -> list[Metric]:
        return []  # nothing is collected when registering

    def collect(self) -> Iterator[Metric]:
        up = _gauge("keel_metrics_source_up", "Whether a source answered this scrape.", ["source"])
        keys = Keys(get_settings().keel_namespace)
        try:
            client = get_redis()
            queue_metrics = list(self._queues(client, keys))
            breaker_metrics = list(self._breakers(client, keys))
            up.add_metric(["redis"], 1)
        except (redis.RedisError, OSError):
            queue_metrics, breaker_metrics = [], []
            up.add_metric(["redis"], 0)
        try:
            db_metrics = list(self._database())
            up.add_metric(["database"], 1)
        except sa.exc.SQLAlchemyError:
            db_metrics = []
            up.add_metric(["database"], 0)
        yield up
        yield from queue_metrics
        yield from breaker_metrics
        yield from db_metrics

    def _queues(self, client: redis.Redis, keys: Keys) -> Iterator[Metric]:
        pipe = client.pipeline(transaction=False)
        for queue in ALL_QUEUES:
            base = keys.queue(queue)
            pipe.llen(base)
            for step in KOMBU_PRIORITY_STEPS:
                pipe.llen(f"{base}{KOMBU_PRIORITY_SEP}{step}")
        pipe.hlen(keys.queue(KOMBU_UNACKED))
        lengths = pipe.execute()
        depth = _gauge("keel_queue_depth", "Tasks waiting on each Keel queue.", ["queue"])
        per_queue = 1 + len(KOMBU_PRIORITY_STEPS)
        for i, queue in enumerate(ALL_QUEUES):
            depth.add_metric([queue], sum(lengths[i * per_queue : (i + 1) * per_queue]))
        yield depth
        unacked = _gauge("keel_tasks_unacked", "Tasks taken by a worker, not yet acked.", [])
        unacked.add_metric([], lengths[-1])
        yield unacked

    def _breakers(self, client: redis.Redis, keys: Keys) -> Iterator[Metric]:
        prefix, suffix = keys.breaker_state("\0").split("\0")
        names = [
            k.decode() if isinstance(k, bytes) else str(k)
            for k in client.scan_iter(match=keys.breaker_pattern(), count=500)
        ]
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.hget(name, "state")
        states = pipe.execute()
        gauge = _gauge(
            "keel_breaker_state",
            "1 for each provider:model breaker's current state (closed, open, half_open).",
            ["model", "state"],
        )
        for name, raw in zip(names, states, strict=True):
            model = name.removeprefix(prefix).removesuffix(suffix)
            current = raw.decode() if isinstance(raw, bytes) else (raw or "closed")
            for state in dict.fromkeys((*BREAKER_STATES, current)):
                gauge.add_metric([model, state], 1 if state == current else 0)
        yield gauge

    def _database(self) -> Iterator[Metric]:
        since = dt.datetime.now(dt.UTC) - self.window
        detail = col(AuditEvent.detail)
        with session_scope() as session:
            by_state = dict(
                session.execute(
                    sa.select(col(Message.state), sa.func.count()).group_by(col(Message.state))
                ).all()
            )
            dead = session.execute(
                sa.select(col(DeadLetter.reason), sa.func.count()).group_by(col(DeadLetter.reason))
            ).all()
            tier = detail["keel.tier"].as_string()
            provider = detail["gen_ai.provider.name"].as_string()
            status = detail["keel.status"].as_string()
            calls = session.execute(
                sa.select(
                    tier,
                    provider,
                    status,
                    sa.func.count(),
                    sa.func.sum(sa.cast(detail["keel.cost_usd"].as_string(), sa.Numeric(18, 8))),
                )
                .where(col(AuditEvent.action) == "model_call", col(AuditEvent.at) >= since)
                .group_by(tier, provider, status)
            ).all()
            check = detail["check"].as_string()
            blocks = session.execute(
                sa.select(check, sa.func.count())
                .where(
                    col(AuditEvent.action) == "guardrail",
                    col(AuditEvent.at) >= since,
                    detail["passed"].as_boolean().is_(False),
                    check != "send_window",  # a closed window delays a reply, never blocks it
                )
                .group_by(check)
            ).all()
        states = _gauge("keel_messages", "Messages in each state.", ["state"])
        for state in MessageState:
            states.add_metric([state.value], by_state.pop(state.value, 0))
        for other, n in by_state.items():
            states.add_metric([str(other)], n)
        yield states
        dead_letters = _gauge("keel_dead_letters", "Dead letters by reason.", ["reason"])
        for reason, n in dead:
            dead_letters.add_metric([str(reason)], n)
        yield dead_letters
        call_gauge = _gauge(
            "keel_model_calls_last_hour",
            "Model call attempts in the last hour by tier, provider and status.",
            ["tier", "provider", "status"],
        )
        cost_gauge = _gauge(
            "keel_model_cost_usd_last_hour",
            "Model spend in USD in the last hour by tier and provider.",
            ["tier", "provider"],
        )
        cost: dict[tuple[str, str], float] = {}
        for t, p, s, n, usd in calls:
            call_gauge.add_metric([str(t), str(p), str(s)], n)
            cost[(str(t), str(p))] = cost.get((str(t), str(p)), 0.0) + float(usd or 0)
        for (t, p), usd in cost.items():
            cost_gauge.add_metric([t, p], usd)
        yield call_gauge
        yield cost_gauge
        block_gauge = _gauge(
            "keel_guardrail_blocks_last_hour",
            "Guardrail checks that blocked a draft in the last hour, by check.",
            ["check"],
        )
        for name, n in blocks:
            block_gauge.add_metric([str(name)], n)
        yield block_gauge


def registry() -> CollectorRegistry:
    """A registry holding only Keel's collector (no process-global state)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(KeelCollector())
    return reg
