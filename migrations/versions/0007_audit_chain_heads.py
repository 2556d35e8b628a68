"""audit chain heads and hash schemes: each message keeps its chain's head (the seq and
hash of its last event, written in the same commit as every event), so `keel audit
verify` sees a deleted tail; each event names the scheme of its hash (plain SHA-256,
or HMAC-SHA256 with KEEL_AUDIT_KEY)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

The heads are backfilled from the events already there. `hash_scheme` arrives with a
server default, so existing rows read "sha256" without an UPDATE (the append-only
triggers refuse those). Downgrading drops both; rows keyed meanwhile still verify
afterwards (verify tries the key on a row that reads "sha256" and does not match).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Correlated on the unique (message_id, seq) index; the same SQL on Postgres and SQLite.
BACKFILL_HEADS = """
UPDATE messages SET
    audit_seq = (
        SELECT e.seq FROM audit_events e WHERE e.message_id = messages.id
        ORDER BY e.seq DESC LIMIT 1
    ),
    audit_hash = (
        SELECT e.hash FROM audit_events e WHERE e.message_id = messages.id
        ORDER BY e.seq DESC LIMIT 1
    )
"""


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: SQLite keeps audit_events (and its triggers)
    # instead of rebuilding it, and Postgres adds a constant default without a rewrite.
    op.add_column(
        "audit_events",
        sa.Column("hash_scheme", sa.String(32), nullable=False, server_default="sha256"),
    )
    op.add_column("messages", sa.Column("audit_seq", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("audit_hash", sa.String(64), nullable=True))
    op.execute(BACKFILL_HEADS)


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+): no table rebuild, the triggers stay.
    op.drop_column("messages", "audit_hash")
    op.drop_column("messages", "audit_seq")
    op.drop_column("audit_events", "hash_scheme")
