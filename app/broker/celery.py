"""The one Celery app (`celery -A tasks` finds it through `tasks.app`), configured from
`celeryconfig.py`. Importing this module registers no task: `tasks/` does that."""

from __future__ import annotations

from celery import Celery, concurrency
from kombu import transport as kombu_transport

from app.config import get_settings

# `--pool threads` (the Procfile's default) runs Celery's threads pool with Keel's fix
# for a cold shutdown (app/broker/threads.py); the CLI resolves the alias after loading us.
concurrency.ALIASES["threads"] = "app.broker.threads:ThreadPool"
# redis:// and rediss:// run kombu's Redis transport with Keel's fix for a late ack after
# a Redis restart (app/broker/transport.py); URLs and settings stay as they were.
kombu_transport.TRANSPORT_ALIASES["redis"] = "app.broker.transport:Transport"
kombu_transport.TRANSPORT_ALIASES["rediss"] = "app.broker.transport:Transport"

celery_app = Celery("keel")
celery_app.config_from_object("celeryconfig")


def refresh_broker() -> None:
    """Re-read the broker URL and key prefix from the environment (the demo and the
    tests switch Redis namespaces inside one process)."""
    settings = get_settings()
    celery_app.conf.broker_url = settings.redis_url
    celery_app.conf.broker_use_ssl = settings.redis_ssl_options()
    celery_app.conf.broker_transport_options = {
        **celery_app.conf.broker_transport_options,
        "global_keyprefix": f"{settings.keel_namespace}:",
    }
    # Drops the cached connection and producer pools, as Celery does after a fork.
    celery_app._after_fork()
