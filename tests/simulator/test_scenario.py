"""Scenario files, the latency option and `python -m app.simulator`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from app.errors import ConfigError
from app.simulator import load_scenario, parse_latency

ROOT = Path(__file__).resolve().parents[2]


def test_a_json_scenario_with_a_rules_key_loads(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"rules": [{"when": {"task": "draft"}, "fail": {"status": 529}}]}))

    rules = load_scenario(path)

    assert rules == [{"when": {"task": "draft"}, "fail": {"status": 529, "rate": 1.0}}]
    assert json.loads(json.dumps(rules)) == rules  # plain data, can be POSTed back


def test_a_yaml_scenario_with_a_list_of_rules_loads(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "- when: {provider: anthropic, model: 'claude-haiku-*'}\n"
        "  fail: {mode: timeout}\n"
        "  for_seconds: 60\n"
        "- respond: {text: hello}\n"
        "  latency_ms: [10, 20]\n"
    )

    rules = load_scenario(str(path))

    assert rules[0]["fail"]["mode"] == "timeout" and rules[0]["for_seconds"] == 60
    assert rules[1]["respond"] == {"text": "hello"} and rules[1]["latency_ms"] == [10, 20]


def test_an_empty_scenario_has_no_rules(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("")

    assert load_scenario(path) == []


@pytest.mark.parametrize(
    ("name", "text", "hint"),
    [
        ("bad.json", '{"rules": [', "not valid JSON"),
        ("bad.yaml", "- when: [unclosed\n", "not valid YAML"),
        ("rule.json", '[{"fail": {"status": 7}}]', "0.fail.status"),
        ("extra.yaml", "- respond: {text: x}\n  colour: red\n", "colour"),
        ("scalar.json", '"just a string"', "expected a list of rules"),
    ],
)
def test_a_bad_scenario_file_raises_config_error_in_one_line(
    tmp_path: Path, name: str, text: str, hint: str
) -> None:
    path = tmp_path / name
    path.write_text(text)

    with pytest.raises(ConfigError) as caught:
        load_scenario(path)

    message = str(caught.value)
    assert hint in message and str(path) in message and "\n" not in message


def test_a_missing_scenario_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "nope.json")


def test_latency_is_parsed_from_a_or_a_colon_b() -> None:
    assert parse_latency("0") == (0, 0)
    assert parse_latency("50") == (50, 50)
    assert parse_latency("20:80") == (20, 80)
    for bad in ("x", "5:2", "-1", "1:2:3"):
        with pytest.raises(ConfigError):
            parse_latency(bad)
    with pytest.raises(ValueError):  # also a ValueError, for CLI option parsers
        parse_latency("x")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_module_cli_serves_a_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("- when: {task: classify}\n  respond: {text: from-scenario}\n")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.simulator", "--port", str(port), "--scenario", str(scenario)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{url}/_sim/health").raise_for_status()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        client = anthropic.Anthropic(api_key="sim", base_url=f"{url}/anthropic", max_retries=0)
        message = client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=5,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Keel-Task": "classify"},
        )
        assert message.content[0].text == "from-scenario"
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_module_cli_exits_2_with_one_line_on_a_bad_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.json"
    scenario.write_text('[{"fail": {"mode": "explode"}}]')

    done = subprocess.run(
        [sys.executable, "-m", "app.simulator", "--scenario", str(scenario)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 2
    assert done.stderr.startswith("error: scenario") and done.stderr.count("\n") == 1
