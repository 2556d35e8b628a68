"""The prompt value type every provider adapter sends, and the health probe's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    """A system prompt and one user turn."""

    system: str
    user: str
    max_tokens: int


def probe_prompt() -> Prompt:
    """The smallest request a model can answer: one token."""
    return Prompt(system="Health check.", user="ping", max_tokens=1)
