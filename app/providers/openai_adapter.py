"""OpenAI Chat Completions API through the official SDK."""

from __future__ import annotations

from typing import Any

import openai

from app.errors import MalformedResponse
from app.providers.base import Completion
from app.providers.errors_map import sdk_errors
from app.providers.prompt import Prompt


class OpenAIClient:
    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None, timeout_s: float) -> None:
        self._sdk = openai.OpenAI(
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
            # Structured outputs: the content is JSON that matches the schema.
            structured["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": prompt.answer.name,
                    "description": prompt.answer.description,
                    "schema": dict(prompt.answer.schema),
                    "strict": True,
                },
            }
        with sdk_errors(openai, provider=self.name, model=model):
            response = self._sdk.chat.completions.create(
                model=model,
                max_completion_tokens=prompt.max_tokens,
                messages=[
                    # stable part first: OpenAI caches a long enough prefix by itself
                    {"role": "system", "content": prompt.full_system},
                    {"role": "user", "content": prompt.user},
                ],
                extra_headers=headers,
                timeout=timeout_s,
                **structured,
            )
        choices = getattr(response, "choices", None) or []
        usage = getattr(response, "usage", None)
        message = choices[0].message if choices else None
        # A refusal (structured outputs) is an answer Keel cannot use, not a broken body.
        content = (message.content or getattr(message, "refusal", None)) if message else None
        if not content or usage is None:
            raise MalformedResponse(
                f"openai {model} answered without text or usage",
                provider=self.name,
                model=model,
                request_id=getattr(response, "_request_id", None),
            )
        details = getattr(usage, "prompt_tokens_details", None)
        return Completion(
            text=content,
            input_tokens=int(usage.prompt_tokens or 0),
            output_tokens=int(usage.completion_tokens or 0),
            cache_read_tokens=int(getattr(details, "cached_tokens", None) or 0),
            request_id=getattr(response, "_request_id", None),
            response_id=_str_or_none(getattr(response, "id", None)),
            response_model=_str_or_none(getattr(response, "model", None)),
        )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
