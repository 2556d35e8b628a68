"""Outcomes (SPEC 12): what happened downstream of a conversation, as its client's CRM says.

Owns validating an outcome as a client sends it (`OutcomeIn`), resolving the conversation
it belongs to (by `(channel, conversation_id)` or by one of its messages), storing it once
per `external_id` (a repeat returns the first row) and auditing it as an `outcome` event on
the conversation's latest message, in the same transaction. Used by the API
(`POST /v1/outcomes`); `keel report` reads the rows for its conversion figures.
"""

from app.outcomes.errors import OutcomeError, OutcomeTargetNotFound, UnknownOutcomeKind
from app.outcomes.schemas import OutcomeAccepted, OutcomeIn
from app.outcomes.service import record_outcome

__all__ = [
    "OutcomeAccepted",
    "OutcomeError",
    "OutcomeIn",
    "OutcomeTargetNotFound",
    "UnknownOutcomeKind",
    "record_outcome",
]
