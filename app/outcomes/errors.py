"""Why an outcome was refused."""

from __future__ import annotations

from app.errors import InvalidInput, KeelError


class OutcomeError(KeelError):
    """Base of the outcome service's refusals."""


class OutcomeTargetNotFound(OutcomeError):
    """Raised when no conversation (or no message) on the channel matches the outcome."""


class UnknownOutcomeKind(OutcomeError, InvalidInput):
    """Raised when the outcome's kind is not one of the policy's `[outcomes] kinds`."""

    def __init__(self, kind: str, *, kinds: tuple[str, ...]) -> None:
        super().__init__(f"unknown outcome kind {kind!r}; expected one of {', '.join(kinds)}")
        self.kind = kind
        self.kinds = kinds
