"""Poison messages: every start of a step's task is counted in Redis and every clean
finish uncounts it, so the counter holds the times a worker died (SIGKILL, out of
memory, hard time limit) on this message and step. Past the policy's limit the message
is dead-lettered `poison` instead of killing workers forever."""

from __future__ import annotations

from app.broker import QUEUED_MARKER_TTL_S
from app.state import get_redis, keys, script

COUNTER_TTL_S = 86_400

# Uncount a start (dropping the counter at zero) and, when the caller is about to
# enqueue the next step, set that step's queued marker: one round trip for both.
_END = """
if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
if ARGV[1] ~= '' then redis.call('SET', KEYS[2], 1, 'EX', ARGV[1]) end
return 1
"""
# Count a start and drop its queued marker (the task has left the queue).
_BEGIN = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return n
"""


def begin(message_id: str, step: str) -> int:
    """Count a start; returns the number of unfinished starts including this one."""
    r, k = get_redis(), keys()
    count = script(r, _BEGIN)(
        keys=[k.crashes(message_id, step), k.queued_marker(message_id)], args=[COUNTER_TTL_S]
    )
    return int(count)


def end(message_id: str, step: str, *, mark_queued: bool = False) -> None:
    """The start finished (any outcome but a dead worker). With `mark_queued`, also set
    the message's queued marker for the step the caller enqueues next."""
    r, k = get_redis(), keys()
    ttl = str(QUEUED_MARKER_TTL_S) if mark_queued else ""
    script(r, _END)(keys=[k.crashes(message_id, step), k.queued_marker(message_id)], args=[ttl])


def clear(message_id: str, step: str) -> None:
    get_redis().delete(keys().crashes(message_id, step))
