"""Events without a message that the operator's commands write, as the owner.

- `audit_key`: `keel db upgrade` registers KEEL_AUDIT_KEY once. The event is keyed, so
  nobody without the key can forge or move it; `keel audit verify` then requires every
  event after it to be keyed, and a row rewritten with plain SHA-256 shows.
- `schema_downgrade`: `keel db downgrade --i-know` past the append-only migration says
  who and when, in its own commit before the downgrade starts.

Both may run against a schema older than the code (a downgrade starts anywhere), so
they write only the columns the table has.
"""

from __future__ import annotations

import hmac
import socket
from typing import Any

import sqlalchemy as sa

from app.audit.chain import EVENT_COLUMNS, audit_key, digest, keyed_scheme, stored_body
from app.audit.record import chained_row
from app.config import get_settings
from app.db import get_engine
from app.db.migrate import os_user
from app.db.models import AuditEvent

KEY_REGISTERED = "audit_key"
SCHEMA_DOWNGRADE = "schema_downgrade"
_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
# What a registration is checked by: the columns every revision since 0001 has.
_HASHED = ("id", "message_id", *EVENT_COLUMNS)


def _owner_engine(url: str | None) -> sa.Engine:
    return get_engine(url or get_settings().database_url)


def _table(conn: sa.Connection) -> sa.Table:
    return sa.Table("audit_events", sa.MetaData(), autoload_with=conn)


def _insert(conn: sa.Connection, table: sa.Table, *, action: str, detail: dict[str, Any]) -> int:
    row = chained_row(None, message_id=None, action=action, actor="cli", detail=detail)
    values = {name: value for name, value in row.items() if name in table.c}
    event_id: int = conn.execute(
        sa.insert(table).values(**values).returning(table.c.id)
    ).scalar_one()
    return event_id


def key_registration(conn: sa.Connection, key: str) -> int | None:
    """The id of the first genuine registration of `key` (keyed with it), or None."""
    events = _EVENTS
    rows = conn.execute(
        sa.select(*(events.c[name] for name in _HASHED))
        .where(events.c.message_id.is_(None), events.c.action == KEY_REGISTERED)
        .order_by(events.c.id)
    ).all()
    scheme = keyed_scheme(key)
    for row in rows:
        detail = row.detail if isinstance(row.detail, dict) else {}
        genuine = hmac.compare_digest(digest(stored_body(row), key), str(row.hash))
        if detail.get("scheme") == scheme and genuine:
            return int(row.id)
    return None


def register_key(url: str | None = None) -> tuple[int, bool] | None:
    """Register KEEL_AUDIT_KEY in the database at `url` (default DATABASE_URL) unless
    it is already: returns the registration's event id and whether it is new; None
    without a key or before the schema names hash schemes (migration 0007)."""
    key = audit_key()
    if key is None:
        return None
    with _owner_engine(url).begin() as conn:
        if "hash_scheme" not in {c["name"] for c in sa.inspect(conn).get_columns("audit_events")}:
            return None
        found = key_registration(conn, key)
        if found is not None:
            return found, False
        detail = {"scheme": keyed_scheme(key)} | who(conn)
        return _insert(conn, _table(conn), action=KEY_REGISTERED, detail=detail), True


def who(conn: sa.Connection) -> dict[str, Any]:
    """Who runs this command: the OS user and host, and the database role."""
    role = None
    if conn.dialect.name == "postgresql":
        role = conn.execute(sa.text("SELECT current_user")).scalar_one()
    return {"os_user": os_user(), "host": socket.gethostname(), "db_role": role}


def record_downgrade(url: str | None, *, current: list[str], target: str) -> int:
    """Write a `schema_downgrade` event for a downgrade from `current` to `target`, in
    a commit of its own; returns its id. It outlives the downgrade unless the target
    drops the audit table itself (`base`)."""
    with _owner_engine(url).begin() as conn:
        detail = {"from": current, "to": target} | who(conn)
        return _insert(conn, _table(conn), action=SCHEMA_DOWNGRADE, detail=detail)
