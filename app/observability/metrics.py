"""Prometheus figures for `/metrics`, computed at scrape time from Redis and the database.

Nothing is counted in-process, so every web process answers the same numbers and a
restart loses nothing. Queue depths are LLENs of kombu's lists (each queue, plus its
priority-suffixed siblings, under the namespace prefix) and the hash of unacked
tasks. Messages by state and dead letters by reason are one GROUP BY each. Model
calls, cost and guardrail blocks are aggregated from the audit table over the last
hour only (gauges, not counters): one query each on the `(action, at)` index, and
nothing extra to maintain on the hot path. Breaker states are one HGET per model of
the policy's chains; none is fine. A source that does not answer reports
`keel_metrics_source_up 0` instead of failing the scrape.

The cost of a scrape is bounded: a collector computes its figures at most once per
`cache_s` (10 s) and hands every scrape in between the same ones (scrapes that arrive
while it computes wait for that one computation); on Postgres every query runs under
a `statement_timeout` (2 s; a table locked or too big to count in time reports the
database as down for that scrape); each last-hour aggregate reads at most the newest
`audit_row_cap` (50,000) rows, and `keel_metrics_capped{figure} 1` says when it did;
and Redis is asked for known keys only, never SCANned.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

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
from app.policy import get_policy
from app.state import Keys, get_redis

WINDOW = dt.timedelta(hours=1)
CACHE_S = 10.0
STATEMENT_TIMEOUT_S = 2.0
AUDIT_ROW_CAP = 50_000
# kombu's Redis transport: priority N > 0 of queue Q lives in the list "Q\x06\x16N".
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)
KOMBU_UNACKED = "unacked"
BREAKER_STATES = ("closed", "open", "half_open")


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class KeelCollector(Collector):
    """Reads every figure afresh at most once per `cache_s`; scrapes in between reuse them."""

    def __init__(
        self,
        *,
        window: dt.timedelta = WINDOW,
        cache_s: float = CACHE_S,
        statement_timeout_s: float = STATEMENT_TIMEOUT_S,
        audit_row_cap: int = AUDIT_ROW_CAP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.cache_s = cache_s
        self.statement_timeout_s = statement_timeout_s
        self.audit_row_cap = audit_row_cap
        self._clock = clock
        self._lock = threading.Lock()
        self._figures: list[Metric] | None = None
        self._computed_at = 0.0

    def describe(self) -> list[Metric]:
        return []  # nothing is collected when registering

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._figures is None or self._clock() - self._computed_at >= self.cache_s:
                self._figures = list(self._compute())
                self._computed_at = self._clock()
            return iter(self._figures)

    def _compute(self) -> Iterator[Metric]:
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
        policy = get_policy()
        models = list(dict.fromkeys(r.key for t in policy.tiers.values() for r in t.chain))
        pipe = client.pipeline(transaction=False)
        for model in models:
            pipe.hget(keys.breaker_state(model), "state")
        states = pipe.execute()
        gauge = _gauge(
            "keel_breaker_state",
            "1 for each provider:model breaker's current state (closed, open, half_open).",
            ["model", "state"],
        )
        for model, raw in zip(models, states, strict=True):
            current = raw.decode() if isinstance(raw, bytes) else (raw or "closed")
            for state in dict.fromkeys((*BREAKER_STATES, current)):
                gauge.add_metric([model, state], 1 if state == current else 0)
        yield gauge

    def _database(self) -> Iterator[Metric]:
        since = dt.datetime.now(dt.UTC) - self.window
        action, at = col(AuditEvent.action), col(AuditEvent.at)
        with session_scope() as session:
            if session.get_bind().dialect.name == "postgresql":
                timeout_ms = max(1, round(self.statement_timeout_s * 1000))
                session.execute(sa.text(f"SET LOCAL statement_timeout = {timeout_ms}"))
            by_state = dict(
                session.execute(
                    sa.select(col(Message.state), sa.func.count()).group_by(col(Message.state))
                ).all()
            )
            dead = session.execute(
                sa.select(col(DeadLetter.reason), sa.func.count()).group_by(col(DeadLetter.reason))
            ).all()
            recent_calls = (
                sa.select(col(AuditEvent.detail).label("detail"))
                .where(action == "model_call", at >= since)
                .order_by(at.desc())
                .limit(self.audit_row_cap)
                .subquery()
            )
            detail = recent_calls.c.detail
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
                ).group_by(tier, provider, status)
            ).all()
            block_detail = col(AuditEvent.detail)
            recent_blocks = (
                sa.select(block_detail["check"].as_string().label("check"))
                .where(
                    action == "guardrail",
                    at >= since,
                    block_detail["passed"].as_boolean().is_(False),
                    # a closed window delays a reply, never blocks it
                    block_detail["check"].as_string() != "send_window",
                )
                .order_by(at.desc())
                .limit(self.audit_row_cap)
                .subquery()
            )
            check = recent_blocks.c.check
            blocks = session.execute(sa.select(check, sa.func.count()).group_by(check)).all()
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
        capped = _gauge(
            "keel_metrics_capped",
            "1 when a last-hour figure counts only the newest rows (the scrape's row cap).",
            ["figure"],
        )
        capped.add_metric(["model_calls"], int(sum(n for *_, n, _ in calls) >= self.audit_row_cap))
        capped.add_metric(
            ["guardrail_blocks"], int(sum(n for _, n in blocks) >= self.audit_row_cap)
        )
        yield capped


def registry(collector: KeelCollector | None = None) -> CollectorRegistry:
    """A registry holding only Keel's collector (a new one unless given), with the
    collector's cache (no process-global state: the web app makes one at start and
    serves every scrape from it)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector or KeelCollector())
    return reg
