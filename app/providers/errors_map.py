"""The one table translating an SDK status error into Keel's error tree."""

from __future__ import annotations

from app.errors import (
    ProviderConfigError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)

_QUOTA_MARKERS = ("insufficient_quota", "spend limit", "spend_limit", "billing", "quota")


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def translate_status(
    *,
    provider: str,
    model: str,
    status: int,
    body_text: str,
    request_id: str | None,
    retry_after: str | None,
) -> ProviderError:
    """Map an HTTP error status from a provider onto a Keel error."""
    message = f"{provider} {model} answered {status}"
    lowered = body_text.lower()
    kind: type[ProviderError]
    if status == 429 and any(m in lowered for m in _QUOTA_MARKERS):
        kind, message = ProviderConfigError, message + " (quota or spend limit)"
    elif status in (401, 403, 404):
        kind = ProviderConfigError
    elif status in (408, 409, 429) or status >= 500:
        return ProviderUnavailable(
            message,
            provider=provider,
            model=model,
            status=status,
            request_id=request_id,
            retry_after_s=parse_retry_after(retry_after),
        )
    else:
        kind = ProviderRejected
    return kind(message, provider=provider, model=model, status=status, request_id=request_id)
