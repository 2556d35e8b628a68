"""Persistence: the SQLModel tables (the system of record) and the engine and sessions.

Postgres in production, SQLite as the embedded default; the schema is owned by the
Alembic migrations in `migrations/`.
"""

from app.db.engine import (
    autocommit_connection,
    fit_pool,
    get_engine,
    reset_engines,
    session_scope,
    skip_pre_ping,
)
from app.db.models import (
    AuditEvent,
    Contact,
    Conversation,
    DeadLetter,
    Delivery,
    Message,
    MessageState,
    Outcome,
    Review,
    utcnow,
)

__all__ = [
    "AuditEvent",
    "Contact",
    "Conversation",
    "DeadLetter",
    "Delivery",
    "Message",
    "MessageState",
    "Outcome",
    "Review",
    "autocommit_connection",
    "fit_pool",
    "get_engine",
    "reset_engines",
    "session_scope",
    "skip_pre_ping",
    "utcnow",
]
