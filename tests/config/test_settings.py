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


def _settings_error(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str | None:
    """The one-line error `env` gives at start, or None when it is accepted."""
    for name in ("KEEL_WEBHOOK_URL", "KEEL_WEBHOOK_SECRET", "KEEL_METRICS_PORT", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    try:
        get_settings()
    except ConfigError as exc:
        return str(exc)
    finally:
        reset_settings()
    return None


def test_a_webhook_url_without_a_secret_fails_at_start_naming_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = _settings_error(monkeypatch, {"KEEL_WEBHOOK_URL": "https://crm.example.com/keel"})
    assert message is not None
    assert message.startswith("KEEL_WEBHOOK_SECRET") and "KEEL_WEBHOOK_URL" in message
    assert "\n" not in message
    blank = {"KEEL_WEBHOOK_URL": "https://crm.example.com/keel", "KEEL_WEBHOOK_SECRET": ""}
    assert (_settings_error(monkeypatch, blank) or "").startswith("KEEL_WEBHOOK_SECRET")


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com/keel",
        "http://10.0.0.7:8080/keel",
        "http://localhost.example.com/keel",
        "http://127.0.0.1.nip.io/keel",
        "ftp://crm.example.com/keel",
        "crm.example.com/keel",
    ],
)
def test_a_webhook_url_must_be_https_unless_it_is_loopback(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    message = _settings_error(monkeypatch, {"KEEL_WEBHOOK_URL": url, "KEEL_WEBHOOK_SECRET": "s"})
    assert message is not None and message.startswith("KEEL_WEBHOOK_URL"), message
    assert "https://" in message and "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.com/keel?token=abc",
        "http://127.0.0.1:8080/hook",
        "http://127.45.6.7/hook",
        "http://[::1]:9000/hook",
        "http://localhost:9000/hook",
        "http://LOCALHOST/hook",
    ],
)
def test_https_and_loopback_webhook_urls_with_a_secret_are_accepted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    assert (
        _settings_error(monkeypatch, {"KEEL_WEBHOOK_URL": url, "KEEL_WEBHOOK_SECRET": "s"}) is None
    )


def test_no_webhook_at_all_needs_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings_error(monkeypatch, {}) is None


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"KEEL_METRICS_PORT": "8000"}, "KEEL_METRICS_PORT"),
        ({"KEEL_METRICS_PORT": "9464", "PORT": "9464"}, "KEEL_METRICS_PORT"),
        ({"KEEL_METRICS_PORT": "70000"}, "KEEL_METRICS_PORT"),
        ({"KEEL_METRICS_PORT": "metrics"}, "KEEL_METRICS_PORT"),
    ],
)
def test_a_metrics_port_must_be_a_port_other_than_the_web_port(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], name: str
) -> None:
    message = _settings_error(monkeypatch, env)
    assert message is not None and message.startswith(name) and "\n" not in message
