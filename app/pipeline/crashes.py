"""Poison messages: every start of a step's task is counted in Redis and every clean
finish uncounts it, so the counter holds the times a worker died (SIGKILL, out of
memory, hard time limit) on this message and step. Past the policy's limit the message
is dead-lettered `poison` instead of killing workers forever."""

from __future__ import annotations

from app.state import get_redis, keys

COUNTER_TTL_S = 86_400


def begin(message_id: str, step: str) -> int:
    """Count a start; returns the number of unfinished starts including this one."""
    r, k = get_redis(), keys()
    key = k.crashes(message_id, step)
    pipe = r.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, COUNTER_TTL_S)
    pipe.delete(k.queued_marker(message_id))
    count, _, _ = pipe.execute()
    return int(count)


def end(message_id: str, step: str) -> None:
    """The start finished (any outcome but a dead worker)."""
    r, k = get_redis(), keys()
    key = k.crashes(message_id, step)
    if int(r.decr(key)) <= 0:
        r.delete(key)


def clear(message_id: str, step: str) -> None:
    get_redis().delete(keys().crashes(message_id, step))
