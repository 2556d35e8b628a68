"""Celery settings that stop Celery-on-Redis from losing or repeating work.

Read by `tasks.app.config_from_object`; values that depend on the environment
come from Keel's validated settings, so a bad variable fails the worker at start.
"""

from __future__ import annotations

from celery.schedules import crontab
from kombu import Queue

from app.broker.queues import (
    ALL_QUEUES,
    DEFAULT_QUEUE,
    DEFAULT_STEP_QUEUE,
    MAINTENANCE_QUEUE,
    TASK_SOFT_TIME_LIMIT_S,
    TASK_TIME_LIMIT_S,
    VISIBILITY_TIMEOUT_S,
)
from app.config import get_settings

_settings = get_settings()

broker_url = _settings.redis_url
# rediss:// (Heroku Key-Value Store): verify the certificate as KEEL_REDIS_TLS_VERIFY
# says; None for redis://. kombu hands the dict to redis-py; Flower reads it too.
broker_use_ssl = _settings.redis_ssl_options()
redis_backend_use_ssl = _settings.redis_ssl_options()
broker_connection_retry_on_startup = True
# Broker connections a process keeps for sending tasks (Celery's default: 10). A worker's
# threads all send their next step through this pool; 4 is as fast here and keeps one
# worker at about 22 Redis connections in all instead of 34 (Redis plans cap clients).
broker_pool_limit = 4
broker_transport_options = {
    "visibility_timeout": VISIBILITY_TIMEOUT_S,
    "global_keyprefix": f"{_settings.keel_namespace}:",
}
result_backend = None
task_ignore_result = True
result_backend_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT_S}

task_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True

# Ack only after the task ran; a worker killed mid-task gives the message back.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# Enforced by the prefork pool only (a signal to the pool process). The Procfile's default
# pool is threads, where each wait inside a step bounds itself instead: model calls by
# KEEL_MODEL_TIMEOUT_S, webhook POSTs by KEEL_WEBHOOK_TIMEOUT_S (README, "Why threads").
task_soft_time_limit = TASK_SOFT_TIME_LIMIT_S
task_time_limit = TASK_TIME_LIMIT_S
worker_cancel_long_running_tasks_on_connection_loss = True

# Heroku sends SIGTERM, then SIGKILL 30 s later. With REMAP_SIGTERM=SIGQUIT (set in the
# Procfile) SIGTERM starts a soft shutdown: running tasks get 20 s (KEEL_SOFT_SHUTDOWN_S)
# to finish, then the cold shutdown requeues the unacked ones instead of losing them.
worker_soft_shutdown_timeout = _settings.keel_soft_shutdown_s
worker_enable_soft_shutdown_on_idle = True

task_queues = [Queue(name) for name in ALL_QUEUES]
task_default_queue = DEFAULT_QUEUE
# The beat tasks; each pipeline step is `keel.<step>`.
MAINTENANCE_TASKS = (
    "keel.release_scheduled",
    "keel.release_held",
    "keel.drain_parked",
    "keel.reconcile",
    "keel.heartbeat",
)
# Where each task goes unless the sender names a queue (draft names its tier's queue).
task_routes = {
    **{step.task_name: {"queue": queue} for step, queue in DEFAULT_STEP_QUEUE.items()},
    **{name: {"queue": MAINTENANCE_QUEUE} for name in MAINTENANCE_TASKS},
}
task_create_missing_queues = False

# Flower: events carry task names and ids; arguments are message ids only. Workers
# send received/started/succeeded/failed; `task-sent` is off: it doubled the cost of
# every enqueue (a second publish) and Flower lists a task from its `task-received`.
worker_send_task_events = True
task_send_sent_event = False

# Short expiries: a tick that waited longer than its interval is dropped, not piled up.
beat_schedule = {
    "keel.release_scheduled": {
        "task": "keel.release_scheduled",
        "schedule": 15.0,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": 14},
    },
    # a burst's quiet period ends: at most a second late
    "keel.release_held": {
        "task": "keel.release_held",
        "schedule": 1.0,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": 2},
    },
    "keel.drain_parked": {
        "task": "keel.drain_parked",
        "schedule": 1.0,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": 2},
    },
    "keel.reconcile": {
        "task": "keel.reconcile",
        "schedule": 15.0,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": 14},
    },
    # The one whole-minute entry, so Sentry Crons has something to watch (it ignores
    # sub-minute schedules, i.e. every entry above): beat checks in `in_progress` as it
    # sends, a worker `ok` as it finishes. A dead beat misses a check-in; a stuck or
    # missing worker times out. The entry's name is the monitor's slug.
    "keel-heartbeat": {
        "task": "keel.heartbeat",
        "schedule": crontab(),
        "options": {"queue": MAINTENANCE_QUEUE, "expires": 55},
    },
}
