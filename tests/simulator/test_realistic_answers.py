"""Classifications as real models give them (issue 13): Keel asks for structured output
through the real SDKs (OpenAI's strict JSON schema, Anthropic's forced tool call), the
simulator answers in those formats, and its realistic-answer scenario gives the free-text
shapes real models write (capitalised labels, prose, fences, string numbers, percentages,
extra keys), every one of which Keel reads."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from app.policy import get_policy
from app.prompts import classify_prompt
from app.prompts.parse import parse_classification
from app.providers.anthropic_adapter import AnthropicClient
from app.providers.openai_adapter import OpenAIClient
from app.simulator.realistic import SHAPES, realistic_classification, shaped

INTENTS = (
    "pricing", "enrollment", "schedule", "course_info", "complaint",
    "refund_request", "cancellation", "thanks", "spam", "other",
)  # fmt: skip
REALISTIC = {"when": {"task": "classify"}, "respond": {"style": "realistic"}}
HEADERS = {"X-Keel-Task": "classify", "X-Keel-Message-Id": "m-structured"}


@given(
    intent=st.sampled_from(INTENTS),
    language=st.sampled_from(["es", "pt", "en"]),
    confidence=st.integers(min_value=0, max_value=100).map(lambda n: n / 100),
    shape=st.sampled_from(SHAPES),
)
def test_every_realistic_shape_reads_back_as_the_same_classification(
    intent: str, language: str, confidence: float, shape: str
) -> None:
    text = shaped({"intent": intent, "language": language, "confidence": confidence}, shape)
    got_intent, got_language, got_confidence = parse_classification(text, intents=INTENTS)
    assert (got_intent, got_language) == (intent, language), text
    assert abs(got_confidence - confidence) < 0.006, text


def test_the_realistic_scenario_gives_every_shape_across_messages() -> None:
    exact = json.dumps({"intent": "course_info", "language": "es", "confidence": 0.9})
    texts = {realistic_classification(exact, key=f"m-{n}", structured=None)[0] for n in range(200)}
    assert len(texts) == len(SHAPES)
    assert any("Course Info" in t for t in texts) and any("```json" in t for t in texts)


def _prompt() -> Any:
    return classify_prompt(policy=get_policy(), text="¿Cuánto cuesta el curso intensivo?")


def test_keel_asks_anthropic_for_a_forced_tool_call_and_reads_its_input(
    sim_url: str, keel_env: dict[str, str]
) -> None:
    prompt = _prompt()
    assert prompt.answer is not None
    raw = httpx.post(
        f"{sim_url}/anthropic/v1/messages",
        headers={"x-api-key": "sim", "anthropic-version": "2023-06-01", **HEADERS},
        json={
            "model": "claude-haiku-4-5",
            "max_tokens": 60,
            "system": prompt.full_system,
            "messages": [{"role": "user", "content": prompt.user}],
            "tools": [{"name": "classification", "input_schema": dict(prompt.answer.schema)}],
            "tool_choice": {"type": "tool", "name": "classification"},
        },
    ).json()
    assert raw["stop_reason"] == "tool_use"
    assert raw["content"][0]["type"] == "tool_use"
    assert raw["content"][0]["name"] == "classification"
    assert raw["content"][0]["input"]["intent"] == "pricing"
    # And Keel's adapter, through the real SDK, sends the tool and reads the call
    client = AnthropicClient(api_key="sim", base_url=f"{sim_url}/anthropic", timeout_s=5)
    completion = client.complete(
        model="claude-haiku-4-5", prompt=prompt, headers=HEADERS, timeout_s=5
    )
    assert json.loads(completion.text)["intent"] == "pricing"


def test_keel_asks_openai_for_a_strict_json_schema_and_gets_exactly_it(
    sim_url: str, keel_env: dict[str, str]
) -> None:
    httpx.post(f"{sim_url}/_sim/rules", json=REALISTIC).raise_for_status()
    client = OpenAIClient(api_key="sim", base_url=f"{sim_url}/openai/v1", timeout_s=5)
    for n in range(12):
        headers = {**HEADERS, "X-Keel-Message-Id": f"m-{n}"}
        completion = client.complete(
            model="gpt-4.1-mini", prompt=_prompt(), headers=headers, timeout_s=5
        )
        assert set(json.loads(completion.text)) == {"intent", "language", "confidence"}


def test_anthropic_tool_input_in_the_realistic_scenario_is_read_with_string_numbers(
    sim_url: str, keel_env: dict[str, str]
) -> None:
    httpx.post(f"{sim_url}/_sim/rules", json=REALISTIC).raise_for_status()
    client = AnthropicClient(api_key="sim", base_url=f"{sim_url}/anthropic", timeout_s=5)
    confidences = []
    for n in range(12):
        headers = {**HEADERS, "X-Keel-Message-Id": f"m-{n}"}
        completion = client.complete(
            model="claude-haiku-4-5", prompt=_prompt(), headers=headers, timeout_s=5
        )
        confidences.append(json.loads(completion.text)["confidence"])
        assert parse_classification(completion.text, intents=INTENTS)[0] == "pricing"
    assert any(isinstance(c, str) for c in confidences), confidences


def test_a_respond_needs_exactly_one_of_text_or_style(sim_url: str) -> None:
    for respond in ({}, {"text": "x", "style": "realistic"}, {"style": "sloppy"}):
        response = httpx.post(f"{sim_url}/_sim/rules", json={"respond": respond})
        assert response.status_code == 422, respond
