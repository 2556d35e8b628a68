"""The Celery entry point (`celery -A tasks worker`): Keel's one Celery app, from
`app/broker`, with the thin task definitions registered on it.

Tasks only call plain functions in `app/` and map their outcome onto Celery.
"""

from typing import Any

from celery import signals

from app.broker import celery_app as app
from app.broker import refresh_broker
from app.observability.celery_hooks import install_celery_hooks
from app.pipeline.warmup import prepare_worker

# Sentry and JSON logs start in the worker and beat (signals; other importers: no effect).
install_celery_hooks()


@signals.worker_init.connect(weak=False)
def _prepare_worker(sender: Any = None, **_: Any) -> None:
    """In the worker's main process, before its pool starts (beat never gets here)."""
    concurrency = getattr(sender, "concurrency", None)
    prepare_worker(threads=concurrency if isinstance(concurrency, int) else 1)


from tasks import maintenance, pipeline  # noqa: E402,F401  (registers the tasks)

__all__ = ["app", "refresh_broker"]
