"""Every way a provider can fail, through the real SDKs and the simulator, lands in the
right family of Keel's error tree (which decides failover, parking or dead-lettering)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.errors import (
    MalformedResponse,
    ProviderConfigError,
    ProviderRejected,
    ProviderUnavailable,
)
from app.providers import get_client
from app.providers.prompt import Prompt

PROMPT = Prompt(system="Health check.", user="ping", max_tokens=5)
MODELS = {"anthropic": "claude-haiku-4-5", "openai": "gpt-5-nano"}


def call(provider: str, timeout_s: float = 5.0) -> Any:
    return get_client(provider).complete(
        model=MODELS[provider],
        prompt=PROMPT,
        headers={"X-Keel-Task": "probe", "X-Keel-Message-Id": "m-1"},
        timeout_s=timeout_s,
    )


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
@pytest.mark.parametrize(
    ("fail", "family"),
    [
        ({"status": 400}, ProviderRejected),
        ({"status": 413}, ProviderRejected),
        ({"status": 401}, ProviderConfigError),
        ({"status": 403}, ProviderConfigError),
        ({"status": 429}, ProviderUnavailable),
        ({"status": 500}, ProviderUnavailable),
        ({"status": 503}, ProviderUnavailable),
        ({"status": 529}, ProviderUnavailable),
        ({"mode": "reset"}, ProviderUnavailable),
        ({"mode": "malformed"}, MalformedResponse),
        ({"mode": "wrong_shape"}, MalformedResponse),
    ],
)
def test_each_failure_lands_in_its_family(
    simulator: str, provider: str, fail: dict[str, Any], family: type[Exception]
) -> None:
    httpx.post(f"{simulator}/_sim/rules", json={"when": {}, "fail": fail}).raise_for_status()
    with pytest.raises(family) as info:
        call(provider)
    assert getattr(info.value, "provider", None) == provider


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_timeout_is_transient_and_comes_back_within_the_timeout(
    simulator: str, provider: str
) -> None:
    httpx.post(f"{simulator}/_sim/rules", json={"when": {}, "fail": {"mode": "timeout"}})
    with pytest.raises(ProviderUnavailable, match="timed out"):
        call(provider, timeout_s=0.5)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_retry_after_is_read_from_a_429(simulator: str, provider: str) -> None:
    httpx.post(
        f"{simulator}/_sim/rules",
        json={"when": {}, "fail": {"status": 429, "retry_after": 7}},
    ).raise_for_status()
    with pytest.raises(ProviderUnavailable) as info:
        call(provider)
    assert info.value.retry_after_s == 7
    assert info.value.status == 429


def test_usage_and_request_id_come_from_each_real_response(simulator: str) -> None:
    for provider in ("anthropic", "openai"):
        completion = call(provider)
        assert completion.text and completion.input_tokens > 0 and completion.output_tokens > 0
        assert completion.request_id
