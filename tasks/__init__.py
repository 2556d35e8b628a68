"""The Celery app (`celery -A tasks worker`) and Keel's thin task definitions.

Tasks only call plain functions in `app/` and enqueue what those return.
"""

from celery import Celery

from app.observability.celery_hooks import install_celery_hooks

app = Celery("keel")
app.config_from_object("celeryconfig")
# Sentry and JSON logs start in the worker and beat (signals; other importers: no effect).
install_celery_hooks()

from tasks import maintenance, pipeline  # noqa: E402,F401  (registers the tasks)

__all__ = ["app", "refresh_broker"]


def refresh_broker() -> None:
    """Re-read the broker URL and key prefix from the environment (the demo and the
    tests switch Redis namespaces inside one process)."""
    from app.config import get_settings

    settings = get_settings()
    app.conf.broker_url = settings.redis_url
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "global_keyprefix": f"{settings.keel_namespace}:",
    }
    # Drops the cached connection and producer pools, as Celery does after a fork.
    app._after_fork()
