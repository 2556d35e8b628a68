"""conversations (SPEC 11) and outcomes (SPEC 12): the conversation and contact tables,
the outcomes table, and on messages their conversation, hold, reason and answered_by

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation_key", sa.String(220), nullable=False),
        sa.Column("contact_id", sa.String(200), nullable=False),
        sa.Column("last_customer_at", UTCDateTime(), nullable=False),
        sa.Column("latest_message_id", sa.String(36), nullable=False),
        sa.Column("handoff_until", UTCDateTime(), nullable=True),
        sa.Column("lease_message_id", sa.String(36), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("channel", "conversation_key", name="uq_conversations_channel_key"),
    )
    op.create_table(
        "contacts",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("contact_id", sa.String(200), primary_key=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("opted_out_at", UTCDateTime(), nullable=True),
        sa.Column("opted_in_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "outcomes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("external_id", sa.String(200), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation_ref", sa.String(36), nullable=True, index=True),
        sa.Column("message_id", sa.String(36), nullable=True, index=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("value", sa.Numeric(14, 2), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("conversation_ref", sa.String(36), nullable=True))
        batch_op.add_column(sa.Column("hold_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("answered_by", sa.String(36), nullable=True))
        batch_op.create_index("ix_messages_conversation_ref", ["conversation_ref"])
        batch_op.create_index("ix_messages_hold_until", ["hold_until"])
        batch_op.create_index("ix_messages_answered_by", ["answered_by"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_index("ix_messages_answered_by")
        batch_op.drop_index("ix_messages_hold_until")
        batch_op.drop_index("ix_messages_conversation_ref")
        batch_op.drop_column("answered_by")
        batch_op.drop_column("reason")
        batch_op.drop_column("hold_until")
        batch_op.drop_column("conversation_ref")
    op.drop_table("outcomes")
    op.drop_table("contacts")
    op.drop_table("conversations")
