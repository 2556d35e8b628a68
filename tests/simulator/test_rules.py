"""Scenario rules through the real SDKs: every kind, matching, order and expiry."""

from __future__ import annotations

import json
import threading
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


def test_a_respond_rule_overrides_the_answer(ask_claude: Ask, ask_gpt: Ask, rules: Rules) -> None:
    rules({"when": {"provider": "anthropic"}, "respond": {"text": "canned"}})

    assert ask_claude("hi").content[0].text == "canned"
    assert ask_gpt("hi").choices[0].message.content == "ok"


def test_anthropic_sdk_sees_overloaded_error_with_retry_after_on_a_529_rule(
    ask_claude: Ask, rules: Rules
) -> None:
    rules({"fail": {"status": 529, "rate": 1.0, "retry_after": 2}})

    with pytest.raises(anthropic.OverloadedError) as caught:
        ask_claude("hi")

    error = caught.value
    assert error.status_code == 529 and error.type == "overloaded_error"
    assert error.response.headers["retry-after"] == "2"
    assert error.request_id is not None and error.request_id.startswith("req_")


def test_anthropic_sdk_sees_rate_limit_error_with_a_fractional_retry_after(
    ask_claude: Ask, rules: Rules
) -> None:
    rules({"fail": {"status": 429, "retry_after": 1.5, "message": "slow down"}})

    with pytest.raises(anthropic.RateLimitError) as caught:
        ask_claude("hi")

    assert caught.value.response.headers["retry-after"] == "1.5"
    assert caught.value.api_message == "slow down"


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (429, openai.RateLimitError, "requests"),
        (500, openai.InternalServerError, "server_error"),
        (503, openai.InternalServerError, "server_error"),
        (401, openai.AuthenticationError, "invalid_request_error"),
        (400, openai.BadRequestError, "invalid_request_error"),
    ],
)
def test_openai_sdk_sees_the_status_error_of_a_fail_rule(
    ask_gpt: Ask, rules: Rules, status: int, error_class: type[Exception], error_type: str
) -> None:
    rules({"when": {"provider": "openai"}, "fail": {"status": status, "retry_after": 3}})

    with pytest.raises(error_class) as caught:
        ask_gpt("hi")

    error: Any = caught.value
    assert error.status_code == status
    assert error.type == error_type  # the SDK unwraps the body's "error" object
    assert error.response.headers["retry-after"] == "3"
    assert error.request_id.startswith("req_")  # from the x-request-id header


def test_a_timeout_rule_makes_the_sdks_time_out(
    ask_claude: Ask, ask_gpt: Ask, rules: Rules
) -> None:
    rules({"fail": {"mode": "timeout"}})

    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        ask_claude("hi", timeout_s=0.3)
    with pytest.raises(openai.APITimeoutError):
        ask_gpt("hi", timeout_s=0.3)

    assert time.monotonic() - started < 3


def test_a_malformed_rule_makes_the_sdks_raise_a_json_decode_error_not_an_api_error(
    ask_claude: Ask, ask_gpt: Ask, rules: Rules
) -> None:
    # The body is JSON cut in half under `content-type: application/json`; both SDKs
    # call `response.json()` and let `json.JSONDecodeError` (a ValueError) escape.
    rules({"fail": {"mode": "malformed"}})

    with pytest.raises(json.JSONDecodeError):
        ask_claude("hi")
    with pytest.raises(json.JSONDecodeError):
        ask_gpt("hi")


def test_a_wrong_shape_rule_makes_the_sdks_return_objects_without_content(
    ask_claude: Ask, ask_gpt: Ask, rules: Rules
) -> None:
    # Valid JSON in the legacy completion shape: the SDKs do not validate responses, so
    # they return a Message / ChatCompletion whose content is None.
    rules({"fail": {"mode": "wrong_shape"}})

    assert ask_claude("hi").content is None
    assert ask_gpt("hi").choices[0].message is None


def test_a_reset_rule_makes_the_sdks_raise_a_connection_error(
    ask_claude: Ask, ask_gpt: Ask, rules: Rules
) -> None:
    rules({"fail": {"mode": "reset"}})

    with pytest.raises(anthropic.APIConnectionError) as claude_error:
        ask_claude("hi")
    with pytest.raises(openai.APIConnectionError) as gpt_error:
        ask_gpt("hi")

    assert not isinstance(claude_error.value, anthropic.APITimeoutError)
    assert not isinstance(gpt_error.value, openai.APITimeoutError)


def test_a_rule_expires_after_for_seconds(ask_claude: Ask, rules: Rules, sim_url: str) -> None:
    rules({"fail": {"status": 529}, "for_seconds": 0.3})
    with pytest.raises(anthropic.OverloadedError):
        ask_claude("hi")

    time.sleep(0.4)

    assert ask_claude("hi").content[0].text == "ok"
    assert httpx.get(f"{sim_url}/_sim/rules").json()["rules"] == []


def test_a_rule_with_times_applies_to_that_many_calls(ask_claude: Ask, rules: Rules) -> None:
    rules({"fail": {"status": 500}, "times": 2})

    for _ in range(2):
        with pytest.raises(anthropic.InternalServerError):
            ask_claude("hi")
    assert ask_claude("hi").content[0].text == "ok"


def test_the_first_matching_rule_wins(ask_claude: Ask, rules: Rules) -> None:
    rules(
        [
            {"when": {"task": "draft"}, "respond": {"text": "first"}},
            {"when": {"model": "claude-*"}, "respond": {"text": "second"}},
            {"respond": {"text": "third"}},
        ]
    )

    assert ask_claude("hi", task="draft").content[0].text == "first"
    assert ask_claude("hi", task="classify").content[0].text == "second"
    assert ask_claude("hi", model="other-model").content[0].text == "third"


def test_a_rule_posted_with_first_goes_before_the_others(ask_claude: Ask, rules: Rules) -> None:
    rules({"respond": {"text": "old"}})
    rules({"respond": {"text": "new"}}, first=True)

    assert ask_claude("hi").content[0].text == "new"


def test_rules_match_on_model_glob_task_message_id_and_contains(
    ask_claude: Ask, ask_gpt: Ask, rules: Rules
) -> None:
    rules(
        [
            {"when": {"message_id": "m-42"}, "respond": {"text": "by id"}},
            {"when": {"contains": "case-7"}, "respond": {"text": "by text"}},
            {"when": {"provider": "openai", "model": "gpt-5-*"}, "respond": {"text": "by glob"}},
        ]
    )

    assert ask_claude("hi", message_id="m-42").content[0].text == "by id"
    assert ask_claude("about case-7 please").content[0].text == "by text"
    assert ask_claude("x", system="ñandú case-7").content[0].text == "by text"
    assert ask_gpt("hi", model="gpt-5-nano").choices[0].message.content == "by glob"
    assert ask_gpt("hi", model="gpt-5").choices[0].message.content == "ok"


def test_a_fail_rate_fails_an_even_share_of_calls_deterministically(
    ask_claude: Ask, rules: Rules
) -> None:
    rules({"fail": {"status": 529, "rate": 0.5}, "respond": {"text": "fine"}})

    outcomes = []
    for _ in range(4):
        try:
            outcomes.append(ask_claude("hi").content[0].text)
        except anthropic.OverloadedError:
            outcomes.append("529")

    assert outcomes == ["529", "fine", "529", "fine"]


def test_rule_latency_delays_the_answer(ask_claude: Ask, rules: Rules) -> None:
    rules({"latency_ms": 250, "respond": {"text": "slow"}})

    started = time.monotonic()
    assert ask_claude("hi").content[0].text == "slow"
    assert time.monotonic() - started >= 0.25


def test_rules_are_listed_and_cleared(rules: Rules, sim_url: str) -> None:
    rules([{"name": "a", "respond": {"text": "x"}}, {"name": "b", "fail": {"mode": "reset"}}])

    listed = httpx.get(f"{sim_url}/_sim/rules").json()["rules"]
    assert [rule["name"] for rule in listed] == ["a", "b"]
    assert listed[1]["fail"] == {"mode": "reset", "rate": 1.0}

    httpx.delete(f"{sim_url}/_sim/rules").raise_for_status()
    assert httpx.get(f"{sim_url}/_sim/rules").json()["rules"] == []


@pytest.mark.parametrize(
    "bad",
    [
        {"when": {"provider": "google"}},
        {"fail": {"status": 529, "mode": "reset"}},
        {"fail": {}},
        {"fail": {"mode": "explode"}},
        {"fail": {"status": 529, "rate": 2}},
        {"respond": {"txt": "typo"}},
        {"latency_ms": [300, 100]},
        {"unknown": True},
        [{"respond": {"text": "ok"}}, "not a rule"],
    ],
)
def test_an_invalid_rule_is_rejected_with_a_422_and_adds_nothing(sim_url: str, bad: object) -> None:
    response = httpx.post(f"{sim_url}/_sim/rules", json=bad)

    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_rule"
    assert response.json()["error"]["message"]
    assert httpx.get(f"{sim_url}/_sim/rules").json()["rules"] == []


def test_a_rules_post_that_is_not_json_is_a_422(sim_url: str) -> None:
    response = httpx.post(f"{sim_url}/_sim/rules", content=b"{nope")

    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_json"


def test_stopping_the_simulator_drops_held_requests_with_a_connection_error() -> None:
    # Given a client waiting on a request held by a timeout rule
    outcome: list[BaseException] = []
    with running_simulator(rules=[{"fail": {"mode": "timeout"}}]) as url:
        client = anthropic.Anthropic(api_key="sim", base_url=f"{url}/anthropic", max_retries=0)

        def call() -> None:
            try:
                client.messages.create(
                    model="m", max_tokens=1, messages=[{"role": "user", "content": "hi"}]
                )
            except anthropic.APIError as exc:
                outcome.append(exc)

        waiting = threading.Thread(target=call)
        waiting.start()
        time.sleep(0.2)
        stopping = time.monotonic()
    # When the simulator stops, then the client sees the connection go, at once
    waiting.join(5)
    assert time.monotonic() - stopping < 1.0
    assert len(outcome) == 1 and type(outcome[0]) is anthropic.APIConnectionError
