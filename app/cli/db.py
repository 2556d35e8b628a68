"""`keel db upgrade|downgrade`."""

from __future__ import annotations

import typer

from app.console import console
from app.db import migrate

group = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)


@group.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Run the migrations up to REVISION (Alembic `upgrade head`)."""
    migrate.upgrade(revision=revision)
    console.print(f"database upgraded to {revision}")


@group.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert the migrations down to REVISION."""
    migrate.downgrade(revision=revision)
    console.print(f"database downgraded to {revision}")
