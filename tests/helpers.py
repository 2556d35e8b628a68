"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from typing import Any

import redis

REDIS_URL = os.environ.get("KEEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
API_KEY = "test-key-0123456789"
# The reviewer key every test environment has (KEEL_REVIEWER_KEYS): the audit says "ana".
REVIEWER_NAME = "ana"
REVIEWER_KEY = "reviewer-ana-0123456789abcdef"


def queued_ids(namespace: str, queue: str) -> list[str]:
    """Message ids waiting on one Celery queue of a namespace, in the order they will be
    served (Redis carries ids only)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        raw = client.lrange(f"{namespace}:{queue}", 0, -1)
    finally:
        client.close()
    ids = []
    for item in reversed(raw):  # kombu LPUSHes and BRPOPs: the tail is served first
        envelope = json.loads(item)
        body = json.loads(base64.b64decode(envelope["body"]))
        ids.append(body[0][0])
    return ids


def pending_states() -> tuple[str, ...]:
    return ("received", "classified", "drafted")


COALESCE_LINE = "coalesce_s = 8\n"


def no_coalescing(policy_text: str) -> str:
    """Policy text with bursts not waited for (`coalesce_s = 0`): a test that runs the
    steps by hand moves a message from ingest to classify at once. Conversation tests
    put the quiet period back."""
    assert COALESCE_LINE in policy_text
    return policy_text.replace(COALESCE_LINE, "coalesce_s = 0\n")


LOCAL_MODEL_LINE = 'local_model = "app/localtier/models/school.joblib"\n'


def no_local_tier(policy_text: str) -> str:
    """Policy text without the local classifier: every classification is a model call, as
    the tests of model routing, failover and classification parsing need. The end-to-end
    tests keep it (`always_open_policy(..., local_tier=True)`)."""
    assert LOCAL_MODEL_LINE in policy_text
    text = policy_text.replace(LOCAL_MODEL_LINE, "")
    return "\n".join(line for line in text.split("\n") if not line.startswith("local_model_"))


def always_open_policy(
    tmp_dir: os.PathLike[str] | str, *, local_tier: bool = False, **replacements: str
) -> str:
    """The bundled policy with the send window always open (start == end), written to a
    file (without the local tier unless `local_tier`); `replacements` swap other exact
    snippets of the TOML."""
    from pathlib import Path

    from app.policy import BUNDLED_POLICY_PATH

    text = BUNDLED_POLICY_PATH.read_text("utf-8")
    text = text.replace('start = "08:00"\nend = "21:00"', 'start = "00:00"\nend = "00:00"')
    text = no_coalescing(text)
    if not local_tier:
        text = no_local_tier(text)
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path = Path(tmp_dir) / "policy.toml"
    path.write_text(text, "utf-8")
    return str(path)


def poll(predicate: Callable[[], Any], timeout_s: float = 60, every_s: float = 0.25) -> Any:
    """The first truthy value `predicate` returns before the deadline, or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(every_s)
    return None
