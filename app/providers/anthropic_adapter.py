"""Anthropic Messages API through the official SDK."""

from __future__ import annotations

import json
from typing import Any

import anthropic
from anthropic.types import TextBlockParam

from app.errors import MalformedResponse
from app.providers.base import Completion
from app.providers.errors_map import sdk_errors
from app.providers.prompt import Prompt


class AnthropicClient:
    name = "anthropic"

    def __init__(self, *, api_key: str, base_url: str | None, timeout_s: float) -> None:
        self._sdk = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=timeout_s,
        )

    def complete(
        self, *, model: str, prompt: Prompt, headers: dict[str, str], timeout_s: float
    ) -> Completion:
        structured: dict[str, Any] = {}
        if prompt.answer is not None:
            # A forced tool call: the answer arrives as the tool's input, a JSON object.
            tool = {
                "name": prompt.answer.name,
                "description": prompt.answer.description,
                "input_schema": dict(prompt.answer.schema),
            }
            structured = {
                "tools": [tool],
                "tool_choice": {"type": "tool", "name": prompt.answer.name},
            }
        with sdk_errors(anthropic, provider=self.name, model=model):
            response = self._sdk.messages.create(
                model=model,
                max_tokens=prompt.max_tokens,
                system=_system_blocks(prompt),
                messages=[{"role": "user", "content": prompt.user}],
                extra_headers=headers,
                timeout=timeout_s,
                **structured,
            )
        texts = _answer_texts(getattr(response, "content", None) or [])
        usage = getattr(response, "usage", None)
        if not texts or usage is None:
            raise MalformedResponse(
                f"anthropic {model} answered without text or usage",
                provider=self.name,
                model=model,
                request_id=getattr(response, "_request_id", None),
            )
        # Anthropic counts the tokens written to and read from the prompt cache apart
        # from `input_tokens`; Keel's input is every prompt token.
        written = int(getattr(usage, "cache_creation_input_tokens", None) or 0)
        read = int(getattr(usage, "cache_read_input_tokens", None) or 0)
        return Completion(
            text="".join(texts),
            input_tokens=int(usage.input_tokens or 0) + written + read,
            output_tokens=int(usage.output_tokens or 0),
            cache_write_tokens=written,
            cache_read_tokens=read,
            request_id=getattr(response, "_request_id", None),
            response_id=_str_or_none(getattr(response, "id", None)),
            response_model=_str_or_none(getattr(response, "model", None)),
        )


def _system_blocks(prompt: Prompt) -> list[TextBlockParam]:
    """The system prompt as text blocks, its stable part first and marked for the prompt
    cache (a breakpoint: everything up to it is cached for 5 minutes, refreshed on use;
    Anthropic caches nothing below a model's minimum length, and charges nothing extra
    then)."""
    blocks: list[TextBlockParam] = []
    if prompt.stable:
        blocks.append(
            {"type": "text", "text": prompt.stable, "cache_control": {"type": "ephemeral"}}
        )
    if prompt.system:
        blocks.append({"type": "text", "text": prompt.system})
    return blocks


def _answer_texts(blocks: list[Any]) -> list[str]:
    """The text blocks, or a tool call's input as JSON (what the parsers read either way)."""
    texts = [b.text for b in blocks if b.type == "text"]
    calls = [json.dumps(b.input, ensure_ascii=False) for b in blocks if b.type == "tool_use"]
    return calls or texts


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
