"""The prompt value type every provider adapter sends, and the health probe's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AnswerSchema:
    """The JSON object a prompt asks for, sent with the providers' structured-output
    features: OpenAI's `response_format` (a strict JSON schema), Anthropic's forced tool
    call (the schema as the tool's `input_schema`)."""

    name: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Prompt:
    """A system prompt and one user turn; `answer`: the JSON object to answer with, if
    the answer is data rather than text."""

    system: str
    user: str
    max_tokens: int
    answer: AnswerSchema | None = None


def probe_prompt() -> Prompt:
    """The smallest request a model can answer: one token."""
    return Prompt(system="Health check.", user="ping", max_tokens=1)
