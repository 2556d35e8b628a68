"""`keel review list|approve|reject` and `keel guardrails check`, with their exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli.main import cli
from tests.review.conftest import Escalate

runner = CliRunner()
GOOD = "¡Hola! El curso intensivo de inglés cuesta 450 €."


def test_review_list_approve_and_reject_from_the_command_line(
    escalated: Escalate, open_window_policy: str
) -> None:
    first_mid, first = escalated()
    _, second = escalated()

    listed = runner.invoke(cli, ["review", "list", "--json"])
    blocked = runner.invoke(cli, ["review", "approve", str(first), "--text", "Son 399 €."])
    approved = runner.invoke(
        cli, ["review", "approve", str(first), "--text", GOOD, "--reviewer", "ana", "--json"]
    )
    rejected = runner.invoke(cli, ["review", "reject", str(second), "--reason", "spam"])
    again = runner.invoke(cli, ["review", "reject", str(second)])

    assert listed.exit_code == 0
    assert [r["id"] for r in json.loads(listed.stdout)] == [first, second]
    assert blocked.exit_code == 1
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["review"]["message_id"] == first_mid
    assert rejected.exit_code == 0 and again.exit_code == 1


def payload(draft: str, text: str = "Hola, ¿cuánto cuesta el intensivo?") -> str:
    message = {
        "external_id": "wa-1",
        "channel": "sms",
        "contact": {"id": "c-1", "timezone": "Europe/Madrid", "locale": "es"},
        "text": text,
    }
    return json.dumps({"message": message, "draft": draft, "now": "2026-11-27T03:00:00Z"})


def test_guardrails_check_prints_every_verdict_and_exits_by_whether_anything_blocks(
    keel_env: dict[str, str],
) -> None:
    ok = runner.invoke(cli, ["guardrails", "check"], input=payload(GOOD))
    bad = runner.invoke(
        cli, ["guardrails", "check"], input=payload("Son 399 €, llama al 612345678")
    )
    garbage = runner.invoke(cli, ["guardrails", "check"], input="{not json")

    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.stdout)
    assert result["blocked"] is False and result["language"] == "es"
    assert [v["check"] for v in result["input"]][-1] == "injection"
    assert len(result["output"]) == 8
    assert result["send_window"]["passed"] is False  # 04:00 in Madrid
    assert result["send_window"]["next_open"] == "2026-11-27T07:00:00+00:00"
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["blocking"] == [
        "prices:price_not_in_catalog",
        "contact_data:foreign_phone",
    ]
    assert garbage.exit_code == 2
