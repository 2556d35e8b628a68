"""`keel db upgrade|downgrade`: run as the owner (DATABASE_URL), never as the app role."""

from __future__ import annotations

import typer

from app.config import get_settings
from app.console import console
from app.db import migrate
from app.db.roles import apply_app_role_grants

group = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)


@group.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Run the migrations up to REVISION (Alembic `upgrade head`) as DATABASE_URL's role,
    then grant KEEL_APP_DATABASE_URL's role, if set, what the processes need."""
    migrate.upgrade(revision=revision)
    console.print(f"database upgraded to {revision}")
    role = apply_app_role_grants(get_settings())
    if role is not None:
        console.print(f"app role {role}: working tables read/write, audit_events INSERT/SELECT")


@group.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert the migrations down to REVISION."""
    migrate.downgrade(revision=revision)
    console.print(f"database downgraded to {revision}")
