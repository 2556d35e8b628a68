"""The baseline: bare Celery tasks doing the same hops as Keel's pipeline (ingest,
classify, draft, check, deliver) on the same Redis with the same worker pool, and no
database, audit, guardrails or provider calls. Its Celery settings are Keel's (acks
late, prefetch 1, worker events), so the ratio is what Keel adds to Celery. Classify
and draft sleep for the simulated provider latency when one is set."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

NAMESPACE = os.environ.get("BENCH_NAMESPACE", "bench-baseline")
LATENCY_S = float(os.environ.get("BENCH_LATENCY_S", "0"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
HOPS = ("ingest", "classify", "draft", "check", "deliver")

app = Celery("bench_baseline")
app.conf.update(
    broker_url=REDIS_URL,
    broker_transport_options={"visibility_timeout": 3600, "global_keyprefix": f"{NAMESPACE}:"},
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    task_default_queue="bench",
    # Keel's celeryconfig sends the same worker events (for Flower) and no task-sent.
    worker_send_task_events=True,
    task_send_sent_event=False,
)
_redis = redis.Redis.from_url(REDIS_URL)


@app.task(name="bench.hop")
def hop(message_id: str, index: int) -> None:
    """One hop; the last one counts the message as done."""
    if HOPS[index] in ("classify", "draft") and LATENCY_S:
        time.sleep(LATENCY_S)
    if index + 1 < len(HOPS):
        hop.apply_async(args=[message_id, index + 1])
    else:
        _redis.incr(f"{NAMESPACE}:done")
