"""audit_events is append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on
Postgres); indexes by step and by trace id for operators

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Retention: old events go by dropping whole time partitions (Postgres) or by a
superuser who disables the trigger for one audited purge; no application role
can rewrite history. On SQLite a later batch migration that rebuilds
`audit_events` must create these triggers again (a rebuilt table loses them).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION keel_audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""

PG_TRIGGERS = (
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION keel_audit_events_append_only()",
    # TRUNCATE skips row triggers, so it gets a statement trigger of its own.
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION keel_audit_events_append_only()",
)

SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END",
)


def upgrade() -> None:
    # By message (the unique (message_id, seq) index), by time and by action+time exist.
    op.create_index("ix_audit_events_step_at", "audit_events", ["step", "at"])
    op.create_index("ix_audit_events_trace_id", "audit_events", ["trace_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS keel_audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    op.drop_index("ix_audit_events_trace_id", table_name="audit_events")
    op.drop_index("ix_audit_events_step_at", table_name="audit_events")
