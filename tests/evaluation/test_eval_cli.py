"""`keel eval` runs the real classify path (simulator behind the real SDKs) and gates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import reset_settings
from app.evaluation import read_labeled
from app.localtier import save_model
from app.localtier.train import train_model
from tests.evaluation.test_dataset import INBOX
from tests.helpers import always_open_policy
from tests.pipeline.test_steps import sim_calls

runner = CliRunner()


def keel(*args: str) -> Any:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_the_demo_inbox_is_evaluated_per_language_and_label_through_the_providers(
    simulator: str,
) -> None:
    result = keel("eval", str(INBOX), "--limit", "40", "--concurrency", "4", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["examples"] == 40
    assert sim_calls(simulator, "classify") == 40
    assert set(report["by_language"]) <= {"es", "pt", "en"}
    assert sum(s["examples"] for s in report["by_language"].values()) == 40
    assert sum(v["support"] for v in report["by_label"].values()) == 40
    assert report["correct"] == sum(v["correct"] for v in report["by_label"].values())
    assert report["by_tier"]["fast"]["examples"] == 40
    assert float(report["cost_usd"]) > 0 and report["latency_p95_ms"] >= report["latency_p50_ms"]
    assert report["unknown_labels"] == []


def test_accuracy_below_the_bar_exits_1(simulator: str, tmp_path: Path) -> None:
    # Given a labeled set whose labels no classifier of this policy can give
    path = tmp_path / "wrong.jsonl"
    lines = [{"text": "¿Cuánto cuesta el curso?", "label": "card_arrival"}] * 3
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    # When gated at 50%, Then the gate fails and names the unknown label
    result = keel("eval", str(path), "--min-accuracy", "0.5")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "card_arrival" in result.stdout
    # And a label map that makes the labels policy intents can pass the same bar
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"card_arrival": "pricing"}), encoding="utf-8")
    passed = keel("eval", str(path), "--label-map", str(mapping), "--min-accuracy", "0.5")
    assert passed.exit_code == 0, passed.stdout


def test_a_provider_outage_counts_as_misses_without_stopping_the_run(
    simulator: str, tmp_path: Path
) -> None:
    httpx.post(
        f"{simulator}/_sim/rules", json={"when": {"task": "classify"}, "fail": {"status": 400}}
    ).raise_for_status()
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"text": "Hola", "label": "other"}) + "\n", encoding="utf-8")
    report = json.loads(keel("eval", str(path), "--json").stdout)
    assert report["correct"] == 0 and report["errors"] == {"rejected": 1}
    assert report["confusions"] == [{"label": "other", "predicted": "(no answer)", "count": 1}]


def test_the_local_tier_answers_first_when_the_policy_configures_it(
    simulator: str, monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a local model trained on the inbox and trusted at any confidence
    examples = read_labeled(INBOX)
    model_path = tmp_path / "inbox.joblib"
    save_model(train_model([e.text for e in examples], [e.label for e in examples]), model_path)
    policy = always_open_policy(
        tmp_path,
        **{"[routing]\n": f'[routing]\nlocal_model = "{model_path}"\nlocal_min_confidence = 0\n'},
    )
    monkeypatch.setenv("KEEL_POLICY", policy)
    reset_settings()
    # When the inbox is evaluated, Then no model is called and nothing is paid
    report = json.loads(keel("eval", str(INBOX), "--limit", "30", "--json").stdout)
    assert report["by_tier"] == {
        "local": {"examples": 30, "correct": report["correct"], "accuracy": report["accuracy"]}
    }
    assert report["cost_usd"] == "0" and sim_calls(simulator, "classify") == 0
    # And --no-local measures the fast tier alone
    fast = json.loads(keel("eval", str(INBOX), "--limit", "5", "--no-local", "--json").stdout)
    assert set(fast["by_tier"]) == {"fast"} and sim_calls(simulator, "classify") == 5
