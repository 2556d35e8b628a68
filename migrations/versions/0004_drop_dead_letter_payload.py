"""drop dead_letters.payload: never written (the message row and its audit trail hold
everything a replay needs)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.drop_column("payload")


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
