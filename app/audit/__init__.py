"""The audit record: one append-only event per action, chained per message by SHA-256.

Owns writing events (inside the caller's transaction, so an action and its audit
commit together), reading a message's timeline, and verifying the hash chains.
"""

from app.audit.chain import event_hash, verify_chain
from app.audit.record import Actor, chained_row, event_row, record, timeline, write_rows

__all__ = [
    "Actor",
    "chained_row",
    "event_hash",
    "event_row",
    "record",
    "timeline",
    "verify_chain",
    "write_rows",
]
