"""guardrail columns on messages: regenerations, violations, input flags

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(
            sa.Column("regenerations", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("violations", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("input_flags", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("input_flags")
        batch_op.drop_column("violations")
        batch_op.drop_column("regenerations")
