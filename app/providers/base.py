"""What every provider adapter returns, and the record of one call attempt."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from app.providers.prompt import Prompt


@dataclass(frozen=True)
class Completion:
    """One successful model answer with its real usage."""

    text: str
    input_tokens: int  # every prompt token, those written to or read from the cache too
    output_tokens: int
    request_id: str | None = None  # the provider's HTTP request id (its support asks for it)
    response_id: str | None = None  # the completion's own id (`msg_...`, `chatcmpl-...`)
    response_model: str | None = None  # the model that answered, as the provider names it
    cache_write_tokens: int = 0  # prompt tokens written to the provider's prompt cache
    cache_read_tokens: int = 0  # prompt tokens read from it


class ProviderClient(Protocol):
    """An adapter over one provider's SDK."""

    name: str

    def complete(
        self, *, model: str, prompt: Prompt, headers: dict[str, str], timeout_s: float
    ) -> Completion:
        """Send one request.

        Raises:
            ProviderUnavailable, ProviderRejected, ProviderConfigError, MalformedResponse.
        """
        ...


@dataclass
class Attempt:
    """One model call attempt, as audited (OpenTelemetry GenAI attribute names)."""

    provider: str
    model: str
    tier: str
    task: str
    status: str  # "ok" or an error kind
    latency_ms: float
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    error: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    response_id: str | None = None
    response_model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def audit_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self.provider,
            "gen_ai.request.model": self.model,
            "gen_ai.usage.input_tokens": self.input_tokens,
            "gen_ai.usage.output_tokens": self.output_tokens,
            "keel.tier": self.tier,
            "keel.task": self.task,
            "keel.status": self.status,
            "keel.latency_ms": round(self.latency_ms, 2),
            "keel.cost_usd": str(self.cost_usd),
        }
        if self.cache_write_tokens:
            detail["gen_ai.usage.cache_creation.input_tokens"] = self.cache_write_tokens
        if self.cache_read_tokens:
            detail["gen_ai.usage.cache_read.input_tokens"] = self.cache_read_tokens
        if self.error:
            detail["error.type"] = self.error
        if self.http_status is not None:
            detail["http.response.status_code"] = self.http_status
        if self.response_id:
            detail["gen_ai.response.id"] = self.response_id
        if self.response_model:
            detail["gen_ai.response.model"] = self.response_model
        if self.request_id:
            detail["keel.provider_request_id"] = self.request_id
        detail.update(self.extra)
        return detail
