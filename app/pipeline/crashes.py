"""Poison messages and running steps: every start of a step's task is counted in Redis
and every clean finish uncounts it, so the counter holds the times a worker died
(SIGKILL, out of memory, hard time limit) on this message and step. Past the policy's
limit the message is dead-lettered `poison` instead of killing workers forever.

A start also takes the message's step lease (`running:<id>`, `app/state/leases.py`),
renewed before each model call and dropped at the finish: the reconciler never re-enqueues a
step that is still running, however long it waits on models; a worker that died lets
its lease expire, and the reconciler takes the message up after that."""

from __future__ import annotations

from app.broker import QUEUED_MARKER_TTL_S
from app.state import get_redis, keys, script
from app.state.leases import step_lease_s

COUNTER_TTL_S = 86_400

# Uncount a start (dropping the counter at zero), drop the step lease and, when the
# caller is about to enqueue the next step, set that step's queued marker: one round trip.
_END = """
if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
redis.call('DEL', KEYS[3])
if ARGV[1] ~= '' then redis.call('SET', KEYS[2], 1, 'EX', ARGV[1]) end
return 1
"""
# Count a start, drop its queued marker (the task has left the queue), take the lease.
_BEGIN = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[2])
return n
"""
# Finish one step and start the next in the same task: uncount the first, count the
# second, renew the lease (never dropped between the two). One round trip.
_HAND_OVER = """
if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[2])
return n
"""


def begin(message_id: str, step: str, *, holder: str = "1") -> int:
    """Count a start, its lease held by `holder` (the running task's id); returns the
    number of unfinished starts including this one."""
    r, k = get_redis(), keys()
    count = script(r, _BEGIN)(
        keys=[k.crashes(message_id, step), k.queued_marker(message_id), k.step_lease(message_id)],
        args=[COUNTER_TTL_S, step_lease_s(), holder],
    )
    return int(count)


def end(message_id: str, step: str, *, mark_queued: bool = False) -> None:
    """The start finished (any outcome but a dead worker). With `mark_queued`, also set
    the message's queued marker for the step the caller enqueues next."""
    r, k = get_redis(), keys()
    ttl = str(QUEUED_MARKER_TTL_S) if mark_queued else ""
    script(r, _END)(
        keys=[k.crashes(message_id, step), k.queued_marker(message_id), k.step_lease(message_id)],
        args=[ttl],
    )


def hand_over(message_id: str, done: str, starting: str, *, holder: str = "1") -> int:
    """`done` finished and `starting` starts in the same task; returns the unfinished
    starts of `starting`, this one included."""
    r, k = get_redis(), keys()
    count = script(r, _HAND_OVER)(
        keys=[
            k.crashes(message_id, done),
            k.crashes(message_id, starting),
            k.step_lease(message_id),
        ],
        args=[COUNTER_TTL_S, step_lease_s(), holder],
    )
    return int(count)


def clear(message_id: str, step: str) -> None:
    get_redis().delete(keys().crashes(message_id, step))
