"""Why a review decision was refused."""

from __future__ import annotations

from app.errors import InvalidInput, KeelError
from app.guardrails import Verdict


class ReviewError(KeelError):
    """Base of the review queue's refusals."""


class ReviewNotFound(ReviewError):
    """Raised when no review has the given id."""


class ReviewConflict(ReviewError):
    """Raised when the review was already decided, or its message moved on meanwhile."""


class NothingToSend(ReviewError, InvalidInput):
    """Raised when approving a review that has no draft without giving a text."""


class EditBlocked(ReviewError, InvalidInput):
    """Raised when the text to send fails a blocking output check and no override is set."""

    def __init__(self, verdicts: list[Verdict]) -> None:
        codes = ", ".join(f"{v.check}:{v.reason}" for v in verdicts)
        super().__init__(f"the text fails the guardrails: {codes}")
        self.verdicts = verdicts

    def violations(self) -> list[dict[str, object]]:
        return [{"check": v.check, "reason": v.reason, **v.detail} for v in self.verdicts]
