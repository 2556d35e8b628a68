"""The deployment knobs: Redis TLS verification and the concurrency settings."""

from __future__ import annotations

import ssl

import pytest

from app.config import get_settings
from app.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "verify", "expected"),
    [
        ("redis://localhost:6379/0", "none", None),
        ("redis://localhost:6379/0", "required", None),
        ("unix:///tmp/redis.sock", "required", None),
        ("rediss://:pw@host:6380/0", "none", {"ssl_cert_reqs": ssl.CERT_NONE}),
        ("rediss://:pw@host:6380/0", "NONE", {"ssl_cert_reqs": ssl.CERT_NONE}),
        ("rediss://:pw@host:6380/0", "required", {"ssl_cert_reqs": ssl.CERT_REQUIRED}),
    ],
)
def test_redis_ssl_options_follow_the_scheme_and_the_verify_setting(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, url: str, verify: str, expected: object
) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("KEEL_REDIS_TLS_VERIFY", verify)

    assert get_settings().redis_ssl_options() == expected


def test_tls_verification_is_required_unless_turned_off(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.delenv("KEEL_REDIS_TLS_VERIFY", raising=False)
    monkeypatch.setenv("REDIS_URL", "rediss://:pw@host:6380/0")

    assert get_settings().redis_ssl_options() == {"ssl_cert_reqs": ssl.CERT_REQUIRED}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KEEL_REDIS_TLS_VERIFY", "optional"),
        ("KEEL_REDIS_TLS_VERIFY", "false"),
        ("WEB_CONCURRENCY", "0"),
        ("WEB_CONCURRENCY", "two"),
        ("WORKER_CONCURRENCY", "-4"),
    ],
)
def test_a_bad_deployment_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        get_settings()
    message = str(info.value)
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_concurrency_settings_are_read_and_unset_when_empty(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("WORKER_CONCURRENCY", "")

    settings = get_settings()

    assert settings.web_concurrency == 3
    assert settings.worker_concurrency is None
