"""The reconciler: the database, not Redis, says what is still to do. Messages in a
working state with no progress for `stalled_after_s` are enqueued again at their step
unless they are really waiting on a queue, so a Redis that lost its queues, or a worker
killed while holding a task (fetched, started or not), loses no work. Re-running a step
is harmless: steps are idempotent.

A message whose step is running (its step lease is live: `app/state/leases.py`) is
left alone however long it has been: a step waiting on slow models is not run twice.

"Really waiting" is a queue marker set at enqueue *and* the id still on a queue list: a
task a worker fetched leaves the list, and if that worker died it would otherwise sit in
kombu's unacked hash until the visibility timeout, an hour later."""

from __future__ import annotations

import datetime as dt
import re

import redis
from sqlmodel import col, select

from app.audit import record
from app.broker import ALL_QUEUES, enqueue_many
from app.db import session_scope
from app.db.models import Message, MessageState, utcnow
from app.lifecycle import move
from app.policy import Policy
from app.state import Keys, get_redis, keys
from app.state.leases import live_leases

WORKING_STATES = (MessageState.received, MessageState.classified, MessageState.drafted)
# Past this many waiting tasks, a stalled message with a marker is taken to be in the
# backlog rather than reading every queue entry.
MAX_QUEUE_SCAN = 50_000
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ids_on_queues(client: redis.Redis, k: Keys) -> set[str] | None:
    """Every id-shaped string in the waiting entries of Keel's queues (task arguments
    travel in plain text in the envelope's `argsrepr`), or None past MAX_QUEUE_SCAN."""
    names = [k.queue(q) for q in ALL_QUEUES]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
    if sum(int(n) for n in pipe.execute()) > MAX_QUEUE_SCAN:
        return None
    found: set[str] = set()
    for name in names:
        entries: list[bytes] = client.lrange(name, 0, -1)  # type: ignore[assignment]
        for raw in entries:
            found.update(m.decode() for m in _UUID.findall(raw))
    return found


def reconcile(*, policy: Policy, now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Re-enqueue stalled messages; returns how many."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=policy.retries.stalled_after_s)
    with session_scope() as session:
        stalled = session.exec(
            select(Message)
            .where(
                col(Message.state).in_(WORKING_STATES),
                col(Message.next_step).is_not(None),
                col(Message.updated_at) < cutoff,
            )
            .order_by(col(Message.updated_at))
            .limit(limit)
        ).all()
    if not stalled:
        return 0
    running = live_leases([m.id for m in stalled])  # slow, not dead: leave them be
    stalled = [m for m in stalled if m.id not in running]
    if not stalled:
        return 0
    r, k = get_redis(), keys()
    pipe = r.pipeline(transaction=False)
    for message in stalled:
        pipe.exists(k.queued_marker(message.id))
    markers = pipe.execute()
    waiting = ids_on_queues(r, k) if any(markers) else set()
    batch: list[tuple[str, str, str | None]] = []
    for message, marker in zip(stalled, markers, strict=True):
        if marker and (waiting is None or message.id in waiting):
            continue
        with session_scope() as session:
            stalled_s = round((now - message.updated_at).total_seconds(), 1)
            if not move(session, message, updated_at=now):
                continue
            record(
                session,
                message_id=message.id,
                action="reconciled",
                actor="beat",
                step=message.next_step,
                trace_id=message.trace_id,
                detail={"stalled_s": stalled_s},
            )
        assert message.next_step is not None
        batch.append((message.next_step, message.id, message.tier))
    return enqueue_many(batch, policy=policy)
