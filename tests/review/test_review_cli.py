"""`keel review list|approve|reject` and `keel guardrails check`, with their exit codes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.audit import timeline
from app.cli.main import cli
from app.db import session_scope
from app.demo import procs
from tests.helpers import API_KEY, REVIEWER_KEY, REVIEWER_NAME
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


def test_only_the_cli_on_the_server_may_force_a_blocked_text_and_the_audit_says_so(
    escalated: Escalate, open_window_policy: str
) -> None:
    mid, rid = escalated()  # its draft quotes 399 €, not a catalog price

    refused = runner.invoke(cli, ["review", "approve", str(rid)])
    forced = runner.invoke(
        cli, ["review", "approve", str(rid), "--override", "--reviewer", "ops-marta", "--json"]
    )

    assert refused.exit_code == 1 and "prices" in refused.output
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["override"] is True
    with session_scope() as session:
        [reviewed] = [e.detail for e in timeline(session, mid) if e.action == "reviewed"]
    assert reviewed["via"] == "cli" and reviewed["reviewer"] == "ops-marta"
    assert reviewed["override"] is True
    assert reviewed["overridden"] == ["prices:price_not_in_catalog"]


@pytest.fixture
def web(keel_env: dict[str, str], open_window_policy: str, tmp_path: Path) -> Iterator[str]:
    """The web process, as a server a reviewer's laptop reaches."""
    group = procs.Processes(tmp_path)
    port = procs.free_port()
    argv = procs.python_argv(
        "-m", "uvicorn", "app.api:app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    )  # fmt: skip
    try:
        group.start("web", argv, {**os.environ, **keel_env})
        url = f"http://127.0.0.1:{port}"
        procs.wait_for_http(f"{url}/healthz", timeout_s=60)
        yield url
    finally:
        group.stop_all()


def test_remote_review_commands_take_a_reviewer_key_and_are_signed_with_its_name(
    web: str, escalated: Escalate, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_mid, good = escalated(draft=GOOD)
    _, blocked = escalated(contact_id="c-2")  # its draft quotes 399 €
    monkeypatch.setenv("KEEL_REVIEWER_KEY", API_KEY)
    as_ingest = runner.invoke(cli, ["review", "list", "--url", web])
    monkeypatch.setenv("KEEL_REVIEWER_KEY", REVIEWER_KEY)

    listed = runner.invoke(cli, ["review", "list", "--url", web, "--json"])
    forced = runner.invoke(cli, ["review", "approve", str(blocked), "--url", web, "--override"])
    refused = runner.invoke(cli, ["review", "approve", str(blocked), "--url", web])
    approved = runner.invoke(cli, ["review", "approve", str(good), "--url", web, "--json"])
    rejected = runner.invoke(cli, ["review", "reject", str(blocked), "--url", web])

    assert as_ingest.exit_code == 1 and "KEEL_REVIEWER_KEY" in as_ingest.output
    assert listed.exit_code == 0, listed.output
    assert [r["id"] for r in json.loads(listed.stdout)] == [good, blocked]
    assert forced.exit_code == 2 and "only on the server" in forced.output
    assert refused.exit_code == 1 and "prices: price_not_in_catalog" in refused.output
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["review"]["reviewer"] == REVIEWER_NAME
    assert rejected.exit_code == 0, rejected.output
    with session_scope() as session:
        [reviewed] = [e.detail for e in timeline(session, good_mid) if e.action == "reviewed"]
    assert reviewed["reviewer"] == REVIEWER_NAME and reviewed["via"] == "api"


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
