"""A completion keeps its own id (`gen_ai.response.id`: Anthropic's `msg_...`, OpenAI's
`chatcmpl-...`) apart from the HTTP request id, and the audit records each under its own
name."""

from __future__ import annotations

from app.providers import get_client
from app.providers.base import Attempt
from app.providers.prompt import Prompt

PROMPT = Prompt(system="Health check.", user="ping", max_tokens=5)
MODELS = {"anthropic": ("claude-haiku-4-5", "msg_"), "openai": ("gpt-5-nano", "chatcmpl-")}


def test_each_completion_carries_its_own_id_and_model_apart_from_the_request_id(
    simulator: str,
) -> None:
    for provider, (model, prefix) in MODELS.items():
        completion = get_client(provider).complete(
            model=model, prompt=PROMPT, headers={"X-Keel-Task": "probe"}, timeout_s=5.0
        )
        assert completion.response_id and completion.response_id.startswith(prefix)
        assert completion.request_id and completion.request_id != completion.response_id
        assert completion.response_model == model


def test_the_audit_names_the_completion_id_as_the_response_id_and_keeps_the_request_id() -> None:
    attempt = Attempt(
        provider="openai",
        model="gpt-5-nano",
        tier="fast",
        task="classify",
        status="ok",
        latency_ms=12.0,
        request_id="req_123",
        response_id="chatcmpl-abc",
        response_model="gpt-5-nano-2025-08-07",
    )
    detail = attempt.audit_detail()
    assert detail["gen_ai.response.id"] == "chatcmpl-abc"
    assert detail["gen_ai.response.model"] == "gpt-5-nano-2025-08-07"
    assert detail["keel.provider_request_id"] == "req_123"
