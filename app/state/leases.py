"""Step leases: a running step holds `running:<id>` in Redis, renewed each time it is
about to wait (a model call), so the reconciler can tell a slow step from a dead one."""

from __future__ import annotations

from app.config import get_settings
from app.state.client import get_redis
from app.state.keys import keys

LEASE_MARGIN_S = 10.0


def step_lease_s() -> int:
    """A lease outlives the longest single wait a step makes (a model call or a webhook
    POST, each bounded by its timeout) by a margin; a dead worker's lease is gone soon
    after."""
    settings = get_settings()
    return int(max(settings.keel_model_timeout_s, settings.keel_webhook_timeout_s) + LEASE_MARGIN_S)


def renew_lease(message_id: str) -> None:
    """The step is alive and about to wait: keep its lease (if it holds one), and its
    holder."""
    get_redis().expire(keys().step_lease(message_id), step_lease_s())


def lease_holder(message_id: str) -> str | None:
    """Who holds the message's step lease (the task id of the task running it), if
    anyone does."""
    value = get_redis().get(keys().step_lease(message_id))
    return None if value is None else value.decode() if isinstance(value, bytes) else str(value)


def live_leases(message_ids: list[str]) -> set[str]:
    """Which of these messages have a step running now."""
    if not message_ids:
        return set()
    k = keys()
    pipe = get_redis().pipeline(transaction=False)
    for message_id in message_ids:
        pipe.exists(k.step_lease(message_id))
    return {mid for mid, live in zip(message_ids, pipe.execute(), strict=True) if live}
