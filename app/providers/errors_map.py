"""The one table translating the SDKs' errors into Keel's error tree.

Both official SDKs share their exception names (`APITimeoutError`,
`APIConnectionError`, `APIResponseValidationError`, `APIStatusError`), so one
translator serves both adapters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from app.errors import (
    MalformedResponse,
    ProviderConfigError,
    ProviderError,
    ProviderRejected,
    ProviderTimedOut,
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


@contextmanager
def sdk_errors(sdk: ModuleType, *, provider: str, model: str) -> Iterator[None]:
    """Raise Keel's error for whatever the SDK raises inside the block.

    Raises:
        ProviderUnavailable, ProviderRejected, ProviderConfigError, MalformedResponse.
    """
    try:
        yield
    except sdk.APITimeoutError as exc:
        raise ProviderTimedOut(
            f"{provider} {model} timed out", provider=provider, model=model
        ) from exc
    except sdk.APIConnectionError as exc:
        raise ProviderUnavailable(
            f"{provider} {model} connection failed", provider=provider, model=model
        ) from exc
    except sdk.APIStatusError as exc:
        raise translate_status(
            provider=provider,
            model=model,
            status=exc.status_code,
            body_text=exc.response.text,
            request_id=exc.request_id,
            retry_after=exc.response.headers.get("retry-after"),
        ) from exc
    except (sdk.APIResponseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # A 2xx body the SDK cannot read (truncated JSON raises a bare JSONDecodeError).
        raise MalformedResponse(
            f"{provider} {model} sent an unreadable body", provider=provider, model=model
        ) from exc
