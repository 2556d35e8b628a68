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
    the answer is data rather than text.

    `stable` is the part of the system prompt that many calls share word for word (the
    instructions, the business's knowledge, the catalog, the rules). It comes first, so
    a provider can serve it from its prompt cache: Anthropic when it is marked with
    `cache_control`, OpenAI by itself for a long enough prefix. `system` is what varies
    from call to call (the reply language, the intent, a redraft's violations)."""

    system: str
    user: str
    max_tokens: int
    answer: AnswerSchema | None = None
    stable: str = ""

    @property
    def full_system(self) -> str:
        """The whole system prompt, stable part first."""
        return "\n".join(part for part in (self.stable, self.system) if part)


def probe_prompt() -> Prompt:
    """The smallest request a model can answer: one token."""
    return Prompt(system="Health check.", user="ping", max_tokens=1)
