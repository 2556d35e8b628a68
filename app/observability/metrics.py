"""What `/metrics` serves: the counters and histograms of `app.observability.counters`
(updated where things happen), and a few figures read live at each scrape from the
broker and Redis: queue depths, unacked tasks and breaker states.

A scrape never touches the database, so it costs the same with ten audit rows as with a
million: one broker round trip per queue (kombu's `queue_declare`, whose message count
sums the queue's priority lists under Keel's key prefix), one HLEN of kombu's unacked
hash, and one pipelined HGET per model of the policy's chains. A source that does not
answer reports `keel_metrics_source_up{source} 0` instead of failing the scrape.

Processes: without `PROMETHEUS_MULTIPROC_DIR` each process serves its own counters (a
threads-pool worker holds all of its own). With it (prefork workers, several web
processes, or web and worker on one machine), every process writes its counters to
files there and whichever serves the port sums them all (prometheus_client's
multiprocess mode). Give each machine its own, empty directory at start.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from typing import Any

import redis
from kombu.exceptions import KombuError
from prometheus_client import REGISTRY, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from app.broker import ALL_QUEUES, celery_app
from app.config import get_settings
from app.errors import ConfigError
from app.policy import get_policy
from app.state import Keys, get_redis

log = logging.getLogger("keel.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BREAKER_STATES = ("closed", "open", "half_open")
BROKER_TIMEOUT_S = 2.0
# Every interface: Prometheus scrapes from another host. Keep the port private.
METRICS_BIND = "0.0.0.0"


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class LiveCollector(Collector):
    """Queue depths, unacked tasks and breaker states, read at each scrape."""

    def describe(self) -> list[Metric]:
        return []  # nothing is read when registering

    def collect(self) -> Iterator[Metric]:
        up = _gauge("keel_metrics_source_up", "Whether a source answered this scrape.", ["source"])
        try:
            queue_metrics = list(self._queues())
            up.add_metric(["broker"], 1)
        except (KombuError, redis.RedisError, OSError):
            queue_metrics = []
            up.add_metric(["broker"], 0)
        try:
            breaker_metrics = list(self._breakers())
            up.add_metric(["redis"], 1)
        except (redis.RedisError, OSError):
            breaker_metrics = []
            up.add_metric(["redis"], 0)
        yield up
        yield from queue_metrics
        yield from breaker_metrics

    def _queues(self) -> Iterator[Metric]:
        depth = _gauge("keel_queue_depth", "Tasks waiting on each Keel queue.", ["queue"])
        unacked = _gauge("keel_tasks_unacked", "Tasks taken by a worker, not yet acked.", [])
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
            channel = conn.default_channel
            for queue in ALL_QUEUES:
                declared = channel.queue_declare(queue=queue, durable=True, auto_delete=False)
                depth.add_metric([queue], declared.message_count)
            # kombu's Redis transport keeps the delivered-not-acked tasks in one hash
            unacked_key = getattr(channel, "unacked_key", None)
            client = getattr(channel, "client", None)
            if unacked_key and client is not None:
                unacked.add_metric([], client.hlen(unacked_key))
        yield depth
        yield unacked

    def _breakers(self) -> Iterator[Metric]:
        keys = Keys(get_settings().keel_namespace)
        policy = get_policy()
        models = list(dict.fromkeys(r.key for t in policy.tiers.values() for r in t.chain))
        pipe = get_redis().pipeline(transaction=False)
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


def multiproc_dir() -> str | None:
    """`PROMETHEUS_MULTIPROC_DIR` if set.

    Raises:
        ConfigError: it is set but is not a writable directory.
    """
    path = os.environ.get(MULTIPROC_ENV) or None
    if path is not None and not (os.path.isdir(path) and os.access(path, os.W_OK)):
        raise ConfigError(f"{MULTIPROC_ENV}: {path!r} is not a writable directory")
    return path


def registry() -> CollectorRegistry:
    """What one `/metrics` serves: the live figures, and the counters of this process
    (or, in multiprocess mode, of every process writing to the directory)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(LiveCollector())
    path = multiproc_dir()
    if path is not None:
        multiprocess.MultiProcessCollector(reg, path=path)
    else:
        reg.register(REGISTRY)  # this process's counters, histograms and process_* figures
    return reg


def serve_metrics_port(port: int, reg: CollectorRegistry) -> Any:
    """Serve `reg` on `port` from a thread; None when the port is taken (another process
    on this machine serves it)."""
    try:
        server, _thread = start_http_server(port, addr=METRICS_BIND, registry=reg)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        log.warning(
            "metrics port %d taken: another process serves it, or something else does", port
        )
        return None
    return server


def serve_worker_metrics() -> None:
    """In the worker's main process: `/metrics` on KEEL_METRICS_PORT, if set.

    Raises:
        ConfigError: PROMETHEUS_MULTIPROC_DIR names no writable directory (checked even
            without a port: every counter would fail to write there).
    """
    path = multiproc_dir()
    port = get_settings().keel_metrics_port
    if not port:
        return
    if path is None and (get_settings().worker_pool or "threads") == "prefork":
        log.warning(
            "WORKER_POOL=prefork without %s: the metrics port shows only the main "
            "process, not the children that run the tasks",
            MULTIPROC_ENV,
        )
    serve_metrics_port(port, registry())


def mark_child_dead() -> None:
    """A prefork child leaving: its live-gauge files stop counting (multiprocess mode)."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        multiprocess.mark_process_dead(os.getpid(), path)
