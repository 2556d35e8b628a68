"""Keel's error tree. Retry, park or dead-letter is decided by an error's type."""

from __future__ import annotations


class KeelError(Exception):
    """Base of every error Keel raises on purpose."""


class ConfigError(KeelError):
    """Raised when a setting or the policy is missing or invalid; fails at start."""


class InvalidInput(KeelError):
    """Raised when a message can never be processed as sent (dead-letter `invalid_input`)."""


class TransientError(KeelError):
    """Raised when trying again later may succeed (timeouts, 429, 5xx, resets)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(KeelError):
    """Raised when this request will never succeed as it is."""


class ProviderError(KeelError):
    """Base of errors from a model provider; carries the provider's request id."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status = status
        self.request_id = request_id


class ProviderUnavailable(ProviderError, TransientError):
    """Raised when a provider is down, overloaded, rate limited, slow or unreachable."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
        request_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        ProviderError.__init__(
            self, message, provider=provider, model=model, status=status, request_id=request_id
        )
        self.retry_after_s = retry_after_s


class ProviderTimedOut(ProviderUnavailable):
    """Raised when a provider did not answer within the call's timeout."""


class ProviderRejected(ProviderError, PermanentError):
    """Raised when a provider refuses the request itself (400, 413, context too long)."""


class ProviderConfigError(ProviderError, ConfigError):
    """Raised when a provider refuses our credentials or quota (401, 403, spend limits)."""


class MalformedResponse(ProviderError, TransientError):
    """Raised when a provider answered 2xx with a body we cannot use."""

    def __init__(
        self, message: str, *, provider: str, model: str, request_id: str | None = None
    ) -> None:
        ProviderError.__init__(self, message, provider=provider, model=model, request_id=request_id)
        self.retry_after_s = None


class AllProvidersFailed(TransientError):
    """Raised when every model of a tier's chain failed for this call."""


class DeliveryError(KeelError):
    """Base of errors delivering a reply to the webhook."""


class DeliveryRetryable(DeliveryError, TransientError):
    """Raised on a 5xx, 429, timeout or connection error from the webhook."""


class DeliveryRejected(DeliveryError, PermanentError):
    """Raised when the webhook answers another 4xx (dead-letter `delivery_rejected`)."""


class DatabaseUnavailable(TransientError):
    """Raised when the database does not answer; the step is tried again shortly."""


class ConversationBusy(TransientError):
    """Raised when an earlier reply of the same conversation is being delivered; the
    delivery is tried again shortly (it is not a failed attempt)."""
