"""The audit record: one append-only event per action, chained per message by SHA-256,
or by HMAC-SHA256 with KEEL_AUDIT_KEY.

Owns writing events (inside the caller's transaction, so an action, its audit and the
message's chain head commit together), reading a message's timeline, and verifying the
chains against their heads.
"""

from app.audit.chain import event_hash
from app.audit.checks import verify_chain
from app.audit.record import (
    Actor,
    chained_row,
    event_row,
    head_values,
    insert_rows,
    record,
    timeline,
    write_rows,
)

__all__ = [
    "Actor",
    "chained_row",
    "event_hash",
    "event_row",
    "head_values",
    "insert_rows",
    "record",
    "timeline",
    "verify_chain",
    "write_rows",
]
