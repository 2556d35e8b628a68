"""The human review queue: messages escalated to a person, and the person's decision.

Owns listing reviews and approving or rejecting one (SPEC 3 and 4): an approval sends the
draft (or the reviewer's edit) through the deliver step, after the blocking output
checks pass or the reviewer explicitly overrides them (audited); a rejection ends the
message as `rejected`. Both commit with the message's version as an optimistic lock and
are audited as `reviewed` by a human. Used by the API (`/v1/reviews`) and the CLI
(`keel review`).
"""

from app.review.errors import EditBlocked, NothingToSend, ReviewConflict, ReviewNotFound
from app.review.models import Decision, ReviewPublic, ReviewStatus
from app.review.service import approve, list_reviews, reject

__all__ = [
    "Decision",
    "EditBlocked",
    "NothingToSend",
    "ReviewConflict",
    "ReviewNotFound",
    "ReviewPublic",
    "ReviewStatus",
    "approve",
    "list_reviews",
    "reject",
]
