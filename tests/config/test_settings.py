"""A bad or missing setting fails at start with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import get_settings, reset_settings
from app.errors import ConfigError
from app.policy.loader import parse_policy


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://nope"),
        ("REDIS_URL", "http://localhost"),
        ("PORT", "eighty"),
        ("KEEL_NAMESPACE", "has spaces"),
        ("SENTRY_TRACES_SAMPLE_RATE", "2"),
    ],
)
def test_a_bad_variable_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    reset_settings()
    try:
        with pytest.raises(ConfigError) as info:
            get_settings()
    finally:
        reset_settings()
    message = str(info.value)
    assert message.startswith(name)
    assert "\n" not in message


def test_the_cli_refuses_to_start_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "mysql://nope"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_policy_pointing_at_a_missing_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.policy import load_policy

    with pytest.raises(ConfigError, match="KEEL_POLICY"):
        load_policy("/nonexistent/policy.toml")


@pytest.mark.parametrize(
    ("snippet", "replacement", "expected"),
    [
        ('classify_tier = "fast"', 'classify_tier = "cheap"', "classify_tier"),
        ('flagship_intents = ["complaint", "cancellation"]', 'flagship_intents = ["x"]', "unknown"),
        ('EUR = "450.00"', 'EUR = "-1"', "positive"),
        ('default_timezone = "Europe/Madrid"', 'default_timezone = "Nowhere/City"', "time zone"),
        ('default_timezone = "Europe/Madrid"', 'default_timezone = "Europe"', "time zone"),
        ("[tiers.fast]", "[tiers.fastest]", "tiers"),
        ("[retries]", "[retries\n", "not valid TOML"),
    ],
)
def test_an_invalid_policy_fails_with_what_is_wrong(
    snippet: str, replacement: str, expected: str
) -> None:
    from app.policy import BUNDLED_POLICY_PATH

    text = BUNDLED_POLICY_PATH.read_text("utf-8")
    assert snippet in text
    with pytest.raises(ConfigError, match=expected) as info:
        parse_policy(text.replace(snippet, replacement, 1))
    assert "\n" not in str(info.value).strip() or "TOML" in str(info.value)


def test_the_bundled_policy_is_valid_and_prices_every_model() -> None:
    from app.policy import load_policy

    policy = load_policy()
    for tier in policy.tiers.values():
        for ref in tier.chain:
            assert policy.price_of(ref).input_per_mtok_usd > 0
    amounts = policy.guardrails.catalog_amounts()
    assert set(amounts) == {"EUR", "BRL", "USD"}
