"""The app role (SPEC 14): what the running processes may do when `KEEL_APP_DATABASE_URL`
names a lesser Postgres role than the owner that migrates with `DATABASE_URL`.

It may read and write the working tables and use their sequences, but only INSERT and
SELECT `audit_events`; not owning any table, it cannot disable the append-only triggers
(`ALTER TABLE` is the owner's alone). Grants are idempotent: migration 0006 applies them
and `keel db upgrade` re-applies them after every upgrade, so tables added by later
migrations, and a role configured after the schema reached head, are covered too.
SQLite has no roles: nothing to do.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.config import Settings
from app.errors import ConfigError

AUDIT_TABLE = "audit_events"
# Alembic's bookkeeping: the app role neither reads nor writes it.
MIGRATIONS_TABLE = "alembic_version"
WORKING_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
AUDIT_PRIVILEGES = "SELECT, INSERT"


def app_role_name(settings: Settings) -> str | None:
    """The role KEEL_APP_DATABASE_URL logs in as; None when unset, not Postgres, or
    without a user name (nothing to grant to)."""
    url = settings.keel_app_database_url
    if not url or not url.startswith("postgresql"):
        return None
    return make_url(url).username or None


def _role_to_configure(conn: sa.Connection, role: str | None) -> str | None:
    """`role` if grants apply: Postgres, a role that is not the one migrating.

    Raises:
        ConfigError: the role does not exist on the server.
    """
    if role is None or conn.dialect.name != "postgresql":
        return None
    if role == conn.execute(sa.text("SELECT current_user")).scalar_one():
        return None  # the app runs as the owner: nothing to restrict
    exists = conn.execute(
        sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    if exists is None:
        raise ConfigError(f"KEEL_APP_DATABASE_URL: role {role!r} does not exist in Postgres")
    return role


def grant_app_role(conn: sa.Connection, role: str | None) -> bool:
    """Grant `role` the app's privileges on every table of the current schema; returns
    whether anything was granted.

    Raises:
        ConfigError: the role does not exist on the server.
    """
    role = _role_to_configure(conn, role)
    if role is None:
        return False
    quote = conn.dialect.identifier_preparer.quote_identifier
    grantee = quote(role)
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    tables = set(sa.inspect(conn).get_table_names()) - {MIGRATIONS_TABLE}
    statements = [f"GRANT USAGE ON SCHEMA {quote(schema)} TO {grantee}"]
    for table in sorted(tables - {AUDIT_TABLE}):
        statements.append(f"GRANT {WORKING_PRIVILEGES} ON TABLE {quote(table)} TO {grantee}")
    if AUDIT_TABLE in tables:
        audit = quote(AUDIT_TABLE)
        # Whatever was granted before, the audit table ends INSERT and SELECT only.
        statements.append(f"REVOKE ALL ON TABLE {audit} FROM {grantee}")
        statements.append(f"GRANT {AUDIT_PRIVILEGES} ON TABLE {audit} TO {grantee}")
    statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {quote(schema)} TO {grantee}")
    for statement in statements:
        conn.execute(sa.text(statement))
    return True


def revoke_app_role(conn: sa.Connection, role: str | None) -> bool:
    """Take back everything `grant_app_role` gave; returns whether anything was revoked.

    Raises:
        ConfigError: the role does not exist on the server.
    """
    role = _role_to_configure(conn, role)
    if role is None:
        return False
    quote = conn.dialect.identifier_preparer.quote_identifier
    grantee, schema = (
        quote(role),
        quote(conn.execute(sa.text("SELECT current_schema()")).scalar_one()),
    )
    for statement in (
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {grantee}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {grantee}",
        f"REVOKE USAGE ON SCHEMA {schema} FROM {grantee}",
    ):
        conn.execute(sa.text(statement))
    return True


def apply_app_role_grants(settings: Settings) -> str | None:
    """Connect as the owner (DATABASE_URL) and grant the app role its privileges; returns
    the role granted to, or None when there is none to configure.

    Raises:
        ConfigError: the role does not exist on the server.
    """
    from app.db.engine import get_engine

    role = app_role_name(settings)
    if role is None:
        return None
    with get_engine(settings.database_url).begin() as conn:
        return role if grant_app_role(conn, role) else None
