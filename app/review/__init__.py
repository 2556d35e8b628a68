"""The human review queue: messages escalated to a person, and the person's decision.

Owns listing reviews and approving or rejecting one (SPEC 3 and 4): an approval sends the
draft (or the reviewer's edit) through the deliver step, after the blocking output
checks pass or the reviewer explicitly overrides them (audited); a rejection ends the
message as `rejected`. Both commit with the message's version as an optimistic lock and
are audited as `reviewed` by a human, with who decided (a reviewer key's name, or the
operator at the CLI) and where. Used by the API (`/v1/reviews`), the review page
(`/review`) and the CLI (`keel review`); `explain` puts escalation reasons and guardrail
verdicts in words for the page.
"""

from app.review.errors import EditBlocked, NothingToSend, ReviewConflict, ReviewNotFound
from app.review.models import Decision, ReviewPublic, ReviewStatus, Via
from app.review.queue import get_review, list_reviews, pending_facets
from app.review.service import approve, reject
from app.review.words import explain_reason, explain_violation

__all__ = [
    "Decision",
    "EditBlocked",
    "NothingToSend",
    "ReviewConflict",
    "ReviewNotFound",
    "ReviewPublic",
    "ReviewStatus",
    "Via",
    "approve",
    "explain_reason",
    "explain_violation",
    "get_review",
    "list_reviews",
    "pending_facets",
    "reject",
]
