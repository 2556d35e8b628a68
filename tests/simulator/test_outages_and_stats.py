"""Provider outages, global latency and call statistics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest

from app.simulator.testing import running_simulator

Ask = Callable[..., Any]
Rules = Callable[..., dict[str, Any]]
Stats = Callable[[], dict[str, Any]]


def outage(url: str, **body: Any) -> None:
    httpx.post(f"{url}/_sim/outage", json=body).raise_for_status()


def test_anthropic_sdk_sees_overloaded_error_during_outage(
    ask_claude: Ask, ask_gpt: Ask, sim_url: str
) -> None:
    outage(sim_url, provider="anthropic", status=529, seconds=30)

    with pytest.raises(anthropic.OverloadedError):
        ask_claude("hi")
    assert ask_gpt("hi").choices[0].message.content == "ok"  # the other provider is up


def test_an_outage_beats_rules_and_carries_its_retry_after(
    ask_gpt: Ask, rules: Rules, sim_url: str
) -> None:
    rules({"respond": {"text": "rule"}})
    outage(sim_url, provider="openai", status=503, seconds=30, retry_after=7)

    with pytest.raises(openai.InternalServerError) as caught:
        ask_gpt("hi")

    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"] == "7"


def test_an_outage_ends_after_its_seconds(ask_claude: Ask, sim_url: str) -> None:
    outage(sim_url, provider="anthropic", status=503, seconds=0.3)
    with pytest.raises(anthropic.ServiceUnavailableError):
        ask_claude("hi")

    time.sleep(0.4)

    assert ask_claude("hi").content[0].text == "ok"


def test_deleting_the_outage_or_the_rules_ends_it(ask_claude: Ask, sim_url: str) -> None:
    outage(sim_url, provider="anthropic", status=503, seconds=60)
    assert httpx.get(f"{sim_url}/_sim/rules").json()["outages"][0]["status"] == 503
    httpx.delete(f"{sim_url}/_sim/outage").raise_for_status()
    assert ask_claude("hi").content[0].text == "ok"

    outage(sim_url, provider="anthropic", status=503, seconds=60)
    httpx.delete(f"{sim_url}/_sim/rules").raise_for_status()
    assert ask_claude("hi").content[0].text == "ok"


def test_an_invalid_outage_is_a_422(sim_url: str) -> None:
    response = httpx.post(f"{sim_url}/_sim/outage", json={"provider": "anthropic", "seconds": -1})

    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_outage"


def test_stats_count_calls_by_provider_model_task_and_status(
    ask_claude: Ask, ask_gpt: Ask, rules: Rules, stats: Stats, sim_url: str
) -> None:
    ask_claude("hi", task="classify")
    ask_claude("hi", task="classify")
    ask_gpt("hi", task="draft", model="gpt-5-mini")
    rules({"when": {"task": "probe"}, "fail": {"status": 529}})
    with pytest.raises(anthropic.OverloadedError):
        ask_claude("hi", task="probe")
    rules({"when": {"task": "reset-me"}, "fail": {"mode": "reset"}})
    with pytest.raises(openai.APIConnectionError):
        ask_gpt("hi", task="reset-me")

    got = stats()

    assert got["total"] == 5
    assert got["by_provider"] == {"anthropic": 3, "openai": 2}
    assert got["by_model"] == {"claude-haiku-4-5": 3, "gpt-5-mini": 1, "gpt-5-nano": 1}
    assert got["by_task"] == {"classify": 2, "draft": 1, "probe": 1, "reset-me": 1}
    assert got["by_status"] == {"200": 3, "529": 1, "reset": 1}
    assert {
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "task": "classify",
        "status": 200,
        "count": 2,
    } in got["calls"]

    httpx.delete(f"{sim_url}/_sim/stats").raise_for_status()
    assert stats()["total"] == 0 and stats()["calls"] == []


def test_global_latency_delays_every_answer() -> None:
    with running_simulator(latency_ms=(200, 300)) as url:
        client = anthropic.Anthropic(api_key="sim", base_url=f"{url}/anthropic", max_retries=0)
        started = time.monotonic()
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        elapsed = time.monotonic() - started
        client.close()

    assert 0.2 <= elapsed < 1.0


def test_rules_given_at_creation_apply_from_the_first_call() -> None:
    rules = [{"when": {"provider": "openai"}, "respond": {"text": "preset"}}]
    with running_simulator(rules=rules) as url:
        client = openai.OpenAI(api_key="sim", base_url=f"{url}/openai/v1", max_retries=0)
        completion = client.chat.completions.create(
            model="gpt-5", messages=[{"role": "user", "content": "hi"}]
        )
        client.close()

    assert completion.choices[0].message.content == "preset"
