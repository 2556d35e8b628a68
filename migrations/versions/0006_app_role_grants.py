"""the app role (SPEC 14): with KEEL_APP_DATABASE_URL set, its role may read and write
the working tables and use their sequences, and only INSERT and SELECT audit_events

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

The role is the user of KEEL_APP_DATABASE_URL; unset (or the migrating role itself):
nothing happens. SQLite has no roles. `keel db upgrade` applies the same grants again
after every upgrade (`app.db.roles`), for tables added later and for a role configured
after this revision ran.
"""

from collections.abc import Sequence

from alembic import op

from app.config import get_settings
from app.db.roles import app_role_name, grant_app_role, revoke_app_role

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    grant_app_role(op.get_bind(), app_role_name(get_settings()))


def downgrade() -> None:
    revoke_app_role(op.get_bind(), app_role_name(get_settings()))
