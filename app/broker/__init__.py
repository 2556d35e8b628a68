"""The queues and the Celery app: which queue each step runs on, the app that `tasks/`
registers its task definitions on, and putting message ids on the queues.

Redis carries message ids and nothing else. The API, the CLI and the pipeline enqueue
through here by task name, so none of them imports `tasks/` (and so the step executor).
"""

from app.broker.celery import celery_app, refresh_broker
from app.broker.enqueue import QUEUED_MARKER_TTL_S, enqueue, enqueue_many
from app.broker.queues import ALL_QUEUES, DEFAULT_QUEUE, MAINTENANCE_QUEUE, queue_for

__all__ = [
    "ALL_QUEUES",
    "DEFAULT_QUEUE",
    "MAINTENANCE_QUEUE",
    "QUEUED_MARKER_TTL_S",
    "celery_app",
    "enqueue",
    "enqueue_many",
    "queue_for",
    "refresh_broker",
]
