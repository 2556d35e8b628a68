"""Against the simulator's realistic-answer scenario, no classification call is paid for
and thrown away (issue 13): with structured outputs (the default) and without them (free
text in every shape real models write, read tolerantly)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from app.audit import timeline
from app.config import reset_settings
from app.db import session_scope
from app.demo.run import load_inbox
from app.pipeline.runner import execute
from tests.helpers import always_open_policy
from tests.pipeline.test_steps import new_message

MESSAGES = 40


@pytest.mark.parametrize("structured", [True, False])
def test_no_realistic_classification_is_wasted(
    simulator: str,
    keel_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    structured: bool,
) -> None:
    setting = f"structured_outputs = {str(structured).lower()}"
    policy = always_open_policy(tmp_path, **{"structured_outputs = true": setting})
    monkeypatch.setenv("KEEL_POLICY", policy)
    keel_env["KEEL_POLICY"] = policy
    reset_settings()
    realistic = {"when": {"task": "classify"}, "respond": {"style": "realistic"}}
    httpx.post(f"{simulator}/_sim/rules", json=realistic).raise_for_status()

    statuses: Counter[str] = Counter()
    for n, item in enumerate(load_inbox(MESSAGES)):
        mid = new_message(str(item["text"]), external_id=f"real-{n}")
        execute("ingest", mid)
        execute("classify", mid)
        with session_scope() as session:
            statuses.update(
                str(e.detail.get("keel.status"))
                for e in timeline(session, mid)
                if e.action == "model_call" and e.detail.get("keel.task") == "classify"
            )
    assert statuses and set(statuses) == {"ok"}, statuses
