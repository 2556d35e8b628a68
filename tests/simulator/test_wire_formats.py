"""Both wire formats, through the real SDKs over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest

Ask = Callable[..., Any]


def test_anthropic_sdk_parses_a_message_with_text_usage_and_request_id(
    ask_claude: Ask,
) -> None:
    # When Keel's Anthropic client asks for a probe
    message = ask_claude("ping", task="probe")

    # Then the SDK returns a full Message
    assert message.type == "message" and message.role == "assistant"
    assert message.model == "claude-haiku-4-5"
    assert [block.text for block in message.content] == ["ok"]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens >= 1 and message.usage.output_tokens >= 1
    assert message.id.startswith("msg_")
    assert message._request_id and message._request_id.startswith("req_")


def test_openai_sdk_parses_a_chat_completion_with_text_usage_and_request_id(
    ask_gpt: Ask,
) -> None:
    completion = ask_gpt("ping", task="probe", model="gpt-5-mini")

    assert completion.object == "chat.completion" and completion.model == "gpt-5-mini"
    choice = completion.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant" and choice.message.content == "ok"
    usage = completion.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert completion.created > 0
    assert completion._request_id and completion._request_id.startswith("req_")


def test_usage_counts_grow_with_the_text_sent_and_answered(ask_claude: Ask) -> None:
    short = ask_claude("hi", system="s")
    long = ask_claude("hi " * 400, system="s" * 400)

    # A short word is one token, plus the request's framing; a 400-letter run splits
    assert short.usage.input_tokens < 20
    assert 450 <= long.usage.input_tokens <= 550


def test_the_same_request_always_gets_the_same_answer(ask_gpt: Ask) -> None:
    user = "<customer_message>\n¿Cuánto cuesta el curso?\n</customer_message>"
    answers = {ask_gpt(user, task="classify").choices[0].message.content for _ in range(3)}

    assert len(answers) == 1


def test_a_request_without_keel_headers_is_still_answered(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )

    assert message.content[0].text == "ok"


def test_a_request_without_messages_is_a_400_in_each_providers_format(sim_url: str) -> None:
    a = httpx.post(f"{sim_url}/anthropic/v1/messages", json={"model": "m", "max_tokens": 1})
    o = httpx.post(f"{sim_url}/openai/v1/chat/completions", content=b"not json")

    assert a.status_code == 400 and a.headers["request-id"].startswith("req_")
    assert a.json()["type"] == "error"
    assert a.json()["error"]["type"] == "invalid_request_error"
    assert o.status_code == 400 and o.headers["x-request-id"].startswith("req_")
    assert o.json()["error"]["type"] == "invalid_request_error"


def test_the_sdks_raise_bad_request_for_an_invalid_request(
    claude: anthropic.Anthropic, gpt: openai.OpenAI
) -> None:
    with pytest.raises(anthropic.BadRequestError) as claude_error:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[])
    with pytest.raises(openai.BadRequestError):
        gpt.chat.completions.create(model="gpt-5", messages=[])

    assert claude_error.value.type == "invalid_request_error"
    assert claude_error.value.request_id is not None


def test_unknown_paths_are_404s_and_health_answers(sim_url: str) -> None:
    assert httpx.get(f"{sim_url}/_sim/health").json() == {"status": "ok"}
    assert httpx.post(f"{sim_url}/anthropic/v1/complete", json={}).json()["type"] == "error"
    assert httpx.get(f"{sim_url}/nowhere").status_code == 404
    assert httpx.get(f"{sim_url}/anthropic/v1/messages").status_code == 404
