"""Dead letters from faults, replayed once the fault is gone: park age exceeded during a
long outage, and a webhook that answered 400. A replay sends each reply once; replaying
the same entries again changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter

import pytest

from app.deadletter.replay import DeadLetterFilter, list_dead_letters, replay_one
from app.policy import get_policy
from tests.chaos.checks import check_every_model_call_audited, check_invariants
from tests.chaos.stack import UNSETTLED_STATES, ChaosStack, inbox_messages

MESSAGES = 300
SETTLE_TIMEOUT_S = 240
MAX_PARK_AGE_S = 3
USUAL_MAX_PARK_AGE_S = 86400
QUIET_S = 3.0


def _replay_all(reason: str, *, include_replayed: bool = False) -> Counter[str]:
    """replay_one on every entry with `reason`, as an operator's script would."""
    policy = get_policy()
    entries = list_dead_letters(DeadLetterFilter(reason=reason, include_replayed=include_replayed))
    return Counter(replay_one(entry, policy=policy, actor="cli") for entry in entries)


def _keel_dlq_replay(stack: ChaosStack, *args: str) -> dict[str, object]:
    """`keel dlq replay ... --json` as a separate process; its summary."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "dlq", "replay", *args, "--json"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary: dict[str, object] = json.loads(done.stdout)
    return summary


def _snapshot(stack: ChaosStack) -> tuple[Counter[str], int, int]:
    return stack.states(), len(stack.receiver.posts), len(stack.events("replayed"))


@pytest.mark.slow
def test_messages_parked_past_max_park_age_are_dead_lettered_and_a_replay_sends_each_once(
    private_stack: ChaosStack,
) -> None:
    stack = private_stack
    stack.set_policy(max_park_age_s=MAX_PARK_AGE_S)
    stack.start_worker(concurrency=4)
    beat = stack.start_beat()
    stack.start_api()
    # Given every provider down for longer than the policy lets a message park
    stack.outage("anthropic", seconds=600)
    stack.outage("openai", seconds=600)

    # When 300 messages arrive, park, and stay parked past max_park_age_s
    ids = stack.post_messages(inbox_messages(MESSAGES, tag="expire"))

    def all_expired() -> bool:
        states = stack.states()
        return states["dead"] > 0 and not any(states[s] for s in UNSETTLED_STATES)

    assert stack.wait_until(all_expired, 120), stack.states()

    # Then each is dead-lettered `park_expired` at the step that parked it, nothing sent
    # (the few escalated by the input checks needed no provider)
    entries = list_dead_letters(DeadLetterFilter(reason="park_expired"))
    parked_ids = {e.message_id for e in stack.events("parked")}
    assert {e.message_id for e in entries} == parked_ids
    assert len(entries) == stack.states()["dead"] > MESSAGES * 0.8
    assert {e.step for e in entries} == {"classify"}
    assert stack.receiver.posts == []

    # When the providers are back (and worker and beat run with the usual park age, so
    # that a replayed message re-parked until its tier's breakers close does not expire
    # again within 3 s), and the entries are replayed: half by an operator's script
    # (replay_one), the other half by `keel dlq replay --reason park_expired`
    stack.sim("DELETE", "/_sim/outage")
    stack.group.stop(beat)
    stack.kill_all_workers()
    stack.set_policy(max_park_age_s=USUAL_MAX_PARK_AGE_S)
    stack.start_worker(concurrency=4)
    stack.start_beat()
    policy = get_policy()
    half = len(entries) // 2
    by_script = Counter(replay_one(e, policy=policy, actor="cli") for e in entries[:half])
    by_cli = _keel_dlq_replay(stack, "--reason", "park_expired")
    assert by_script == Counter({"replayed": half})
    assert by_cli["replayed"] == len(entries) - half, by_cli

    # Then every message resumes at classify and settles; each reply is sent once
    stack.settle(SETTLE_TIMEOUT_S)
    findings = check_invariants(stack, ids)
    assert findings.states["dead"] == 0, findings.dead_reasons
    assert findings.states["sent"] > MESSAGES // 2, findings.states
    assert all(len(posts) == 1 for posts in findings.posts.values())
    assert findings.actions["replayed"] == len(entries)

    # When the same entries are replayed again, by script and by the CLI
    before = _snapshot(stack)
    again = _replay_all("park_expired", include_replayed=True)
    cli_again = _keel_dlq_replay(stack, "--reason", "park_expired")
    time.sleep(QUIET_S)

    # Then nothing changes: no new replay, no new POST, the same states
    assert again == Counter({"already_replayed": len(entries)}), again
    assert cli_again.get("replayed", 0) == 0, cli_again
    assert _snapshot(stack) == before
    check_every_model_call_audited(stack, findings)
    print(
        "CHAOS "
        + json.dumps(
            {
                "scenario": "park_expired_replay",
                "messages": MESSAGES,
                "dead_lettered_park_expired": len(entries),
                "replayed_by_script": by_script["replayed"],
                "replayed_by_cli": by_cli["replayed"],
                "states_after_replay": dict(findings.states),
            }
        )
    )


@pytest.mark.slow
def test_replies_rejected_by_the_webhook_are_replayed_once_with_the_same_key_and_text(
    private_stack: ChaosStack,
) -> None:
    stack = private_stack
    # Given a webhook that answers 400 to every delivery
    stack.receiver.answer_status = 400
    stack.start_worker(concurrency=4)
    stack.start_beat()
    stack.start_api()

    # When 300 messages are processed
    ids = stack.post_messages(inbox_messages(MESSAGES, tag="hook400"))
    stack.settle(SETTLE_TIMEOUT_S)

    # Then every reply that reached delivery is dead-lettered `delivery_rejected`, once
    findings = check_invariants(stack, ids)
    rejected = {str(p.body["message_id"]): p for p in stack.receiver.posts}
    assert len(rejected) == len(stack.receiver.posts), "a rejected reply was re-sent"
    assert findings.dead_reasons == Counter({"delivery_rejected": len(rejected)})
    assert findings.states["sent"] == 0 and findings.states["dead"] == len(rejected)
    assert len(rejected) > MESSAGES // 2

    # When the receiver is fixed and the entries are replayed
    stack.receiver.answer_status = 200
    outcomes = _replay_all("delivery_rejected")
    assert outcomes == Counter({"replayed": len(rejected)}), outcomes
    stack.settle(SETTLE_TIMEOUT_S)

    # Then each reply is sent once more, under the same key and with the same text
    findings = check_invariants(stack, ids)
    assert findings.states["sent"] == len(rejected) and findings.states["dead"] == 0
    for message_id, first in rejected.items():
        accepted = findings.accepted_posts(message_id)
        assert len(accepted) == 1, message_id
        assert accepted[0].idempotency_key == first.idempotency_key == f"keel-{message_id}"
        assert accepted[0].body["text"] == first.body["text"]

    # And replaying them again changes nothing
    before = _snapshot(stack)
    again = _replay_all("delivery_rejected", include_replayed=True)
    time.sleep(QUIET_S)
    assert again == Counter({"already_replayed": len(rejected)}), again
    assert _snapshot(stack) == before
    check_every_model_call_audited(stack, findings)
    print(
        "CHAOS "
        + json.dumps(
            {
                "scenario": "delivery_rejected_replay",
                "messages": MESSAGES,
                "dead_lettered_delivery_rejected": len(rejected),
                "states_after_replay": dict(findings.states),
            }
        )
    )
