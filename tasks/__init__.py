"""The Celery entry point (`celery -A tasks worker`): Keel's one Celery app, from
`app/broker`, with the thin task definitions registered on it.

Tasks only call plain functions in `app/` and map their outcome onto Celery.
"""

from typing import Any

from celery import signals

from app.broker import celery_app as app
from app.broker import refresh_broker
from app.broker.processes import fork_copies
from app.config import get_settings
from app.observability.celery_hooks import install_celery_hooks, start_worker_observability
from app.pipeline.warmup import prepare_worker

# Sentry and JSON logs start in the worker and beat (signals; other importers: no effect).
install_celery_hooks()


@signals.worker_init.connect(weak=False)
def _prepare_worker(sender: Any = None, **_: Any) -> None:
    """In the worker's main process, before its pool starts (beat never gets here):
    warm up, fork WORKER_PROCESSES - 1 copies of a threads pool's worker, then start
    each process's trace export (and the metrics port in the first)."""
    concurrency = getattr(sender, "concurrency", None)
    prepare_worker(threads=concurrency if isinstance(concurrency, int) else 1)
    threads = "thread" in str(getattr(sender, "pool_cls", ""))
    processes = get_settings().worker_processes if threads else 1
    index = fork_copies(sender, processes)
    start_worker_observability(sender, serve_metrics=index == 0)


from tasks import maintenance, pipeline  # noqa: E402,F401  (registers the tasks)

__all__ = ["app", "refresh_broker"]
