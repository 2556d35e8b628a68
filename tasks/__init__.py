"""The Celery entry point (`celery -A tasks worker`): Keel's one Celery app, from
`app/broker`, with the thin task definitions registered on it.

Tasks only call plain functions in `app/` and map their outcome onto Celery.
"""

from app.broker import celery_app as app
from app.broker import refresh_broker
from app.observability.celery_hooks import install_celery_hooks

# Sentry and JSON logs start in the worker and beat (signals; other importers: no effect).
install_celery_hooks()

from tasks import maintenance, pipeline  # noqa: E402,F401  (registers the tasks)

__all__ = ["app", "refresh_broker"]
