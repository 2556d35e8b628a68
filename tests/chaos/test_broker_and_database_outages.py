"""The broker restarted empty and the database stopped, each in the middle of a run."""

from __future__ import annotations

import json
import time

import pytest

from app.state import get_redis, keys
from tests.chaos.checks import check_invariants
from tests.chaos.stack import ChaosStack, inbox_messages, process_log_tails

MESSAGES = 300
SETTLE_TIMEOUT_S = 240
DATABASE_DOWN_S = 10


def _start_and_feed(stack: ChaosStack, *, tag: str) -> list[str]:
    stack.start_worker(concurrency=4)
    stack.start_beat()
    stack.start_api()
    ids = stack.post_messages(inbox_messages(MESSAGES, tag=tag))
    # Mid-run: some settled, the rest queued or in flight
    assert stack.wait_until(lambda: stack.count_settled() >= MESSAGES // 5, 120)
    return ids


@pytest.mark.slow
def test_redis_restarted_empty_mid_run_loses_nothing_as_the_reconciler_recovers_every_message(
    private_stack: ChaosStack,
) -> None:
    stack = private_stack
    # Given 300 messages in mid-run, a backlog waiting on the Redis queues
    ids = _start_and_feed(stack, tag="redis")
    backlog = sum(stack.queue_lengths().values())
    settled_before = stack.count_settled()

    # When Redis dies and comes back empty (no persistence): queues, markers, breakers gone
    sentinel = keys().queue("chaos-sentinel")
    get_redis().set(sentinel, 1)
    stack.redis.restart_empty()
    restarted = time.monotonic()
    # (The queues themselves may refill at once: beat ticks, and workers finish the tasks
    # they held and enqueue the next step, so an empty-queue check would race.)
    assert not get_redis().exists(sentinel)

    # Then worker and beat reconnect and the reconciler re-enqueues every lost message
    stack.settle(SETTLE_TIMEOUT_S)
    settled_after_s = time.monotonic() - restarted
    # (a worker that exits here leaves everything unsettled; say so first)
    assert all(w.poll() is None for w in stack.workers), process_log_tails(stack)
    findings = check_invariants(stack, ids)
    assert findings.actions["reconciled"] > 0
    assert findings.states["dead"] == 0, findings.dead_reasons
    assert findings.states["sent"] > MESSAGES // 2, findings.states
    print(
        "CHAOS "
        + json.dumps(
            {
                "scenario": "redis_restarted_empty",
                "messages": MESSAGES,
                "settled_before_restart": settled_before,
                "queued_when_lost": backlog,
                "reconciled": findings.actions["reconciled"],
                "settled_s_after_restart": round(settled_after_s, 1),
                "states": dict(findings.states),
            }
        )
    )


@pytest.mark.slow
def test_postgres_stopped_for_10_s_mid_run_loses_nothing(private_stack: ChaosStack) -> None:
    stack = private_stack
    # Given 300 messages in mid-run
    ids = _start_and_feed(stack, tag="pg")
    settled_before = stack.count_settled()

    # When Postgres shuts down (fast: connections are cut) for 10 s, then starts again
    stack.postgres.stop("fast")
    time.sleep(DATABASE_DOWN_S)
    stack.postgres.start()
    restarted = time.monotonic()

    # Then every message settles, none dead-lettered, replies sent once per text
    stack.settle(SETTLE_TIMEOUT_S)
    settled_after_s = time.monotonic() - restarted
    findings = check_invariants(stack, ids)
    assert findings.states["dead"] == 0, findings.dead_reasons
    assert findings.states["sent"] > MESSAGES // 2, findings.states
    print(
        "CHAOS "
        + json.dumps(
            {
                "scenario": "postgres_stopped",
                "messages": MESSAGES,
                "down_s": DATABASE_DOWN_S,
                "settled_before_stop": settled_before,
                "reconciled": findings.actions["reconciled"],
                "settled_s_after_restart": round(settled_after_s, 1),
                "states": dict(findings.states),
            }
        )
    )
