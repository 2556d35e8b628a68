"""The daily budget: counted atomically across workers, never overspent by more than one
call; past it flagship work is downgraded or parked, as the policy says."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from app import prompts
from app.config import reset_settings
from app.db import session_scope
from app.db.models import AuditEvent
from app.pipeline.parking import drain
from app.pipeline.runner import execute
from app.policy import ModelRef, get_policy
from app.providers import TierCallFailed, budget, call_tier
from app.state import get_redis, keys
from tests.helpers import always_open_policy
from tests.pipeline.test_steps import actions, load, new_message


def use_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **replacements: str) -> None:
    monkeypatch.setenv("KEEL_POLICY", always_open_policy(tmp_path, **replacements))
    reset_settings()


def test_concurrent_flagship_calls_never_overspend_by_more_than_one_call(
    simulator: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_policy(
        monkeypatch,
        tmp_path,
        **{
            "daily_budget_usd = 50.0": "daily_budget_usd = 0.05",
            'over_budget = "downgrade"': 'over_budget = "park"',
        },
    )
    policy = get_policy()
    prompt = prompts.draft_prompt(
        policy=policy, text="¿Precio del curso intensivo?", intent="pricing", language="es",
        contact_name="Ana",
    )  # fmt: skip

    def worker(n: int) -> tuple[int, int]:
        made = refused = 0
        for i in range(40):
            try:
                call_tier(
                    policy=policy, tier="flagship", prompt=prompt, task="draft",
                    message_id=f"m-{n}-{i}", parse=str.strip,
                )  # fmt: skip
                made += 1
            except TierCallFailed as exc:
                assert exc.over_budget
                refused += 1
        return made, refused

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    made = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    assert made > 0 and refused > 0
    one_call = budget.estimate_usd(policy, ModelRef.parse("anthropic:claude-opus-4-6"), prompt)
    spent = budget.spent_usd()
    assert policy.routing.daily_budget_usd is not None
    assert policy.routing.daily_budget_usd <= spent <= policy.routing.daily_budget_usd + one_call


def test_past_the_budget_flagship_work_is_downgraded_to_standard_and_audited(
    simulator: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_policy(monkeypatch, tmp_path, **{"daily_budget_usd = 50.0": "daily_budget_usd = 0.000001"})
    get_redis().set(keys().spend(budget.today()), 10)  # already past today's budget
    mid = new_message("Quiero cancelar mi matrícula, estoy muy molesta", external_id="wa-b1")
    for step in ("ingest", "classify"):
        assert execute(step, mid).kind == "advanced"
    assert load(mid).tier == "flagship"
    assert execute("draft", mid).kind == "advanced"
    assert load(mid).reply_model in ("claude-sonnet-4-6", "gpt-5-mini")  # the standard tier
    with session_scope() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.message_id == mid)).all()
    decisions = [e.detail for e in events if e.action == "budget"]
    assert decisions and decisions[0]["decision"] == "downgrade"
    assert any(e.action == "failover" and e.detail["reason"] == "over_budget" for e in events)


def test_past_the_budget_flagship_work_parks_until_the_next_day(
    simulator: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_policy(
        monkeypatch,
        tmp_path,
        **{
            "daily_budget_usd = 50.0": "daily_budget_usd = 0.000001",
            'over_budget = "downgrade"': 'over_budget = "park"',
        },
    )
    get_redis().set(keys().spend(budget.today()), 10)
    mid = new_message("Quiero cancelar mi matrícula, estoy muy molesta", external_id="wa-b2")
    for step in ("ingest", "classify"):
        assert execute(step, mid).kind == "advanced"
    assert execute("draft", mid).kind == "parked"
    message = load(mid)
    assert message.parked_tier == "flagship" and message.park_reason == "over_budget"
    policy = get_policy()
    assert drain(policy=policy, interval_s=1.0).drained == {}
    assert load(mid).state == "parked"
    get_redis().delete(keys().spend(budget.today()))  # a new day: the counter starts at zero
    assert drain(policy=policy, interval_s=1.0).drained == {"flagship": 1}
    assert actions(mid)[-1] == "unparked"


def test_every_call_is_counted_at_its_real_cost(simulator: str, open_window_policy: str) -> None:
    mid = new_message(external_id="wa-b3")
    for step in ("ingest", "classify", "draft"):
        execute(step, mid)
    assert budget.spent_usd() == load(mid).cost_usd
    assert budget.spent_usd() > Decimal(0)
