"""`keel db upgrade|downgrade`: run as the owner (DATABASE_URL), never as the app role."""

from __future__ import annotations

import typer
from alembic.util import CommandError

from app.audit.admin import record_downgrade, register_key
from app.config import get_settings
from app.console import console, err_console
from app.db import migrate
from app.db.roles import apply_app_role_grants

group = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)


@group.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Run the migrations up to REVISION (Alembic `upgrade head`) as DATABASE_URL's role,
    then grant KEEL_APP_DATABASE_URL's role, if set, what the processes need, and
    register KEEL_AUDIT_KEY, if set: from then on every audit event must be keyed."""
    migrate.upgrade(revision=revision)
    console.print(f"database upgraded to {revision}")
    role = apply_app_role_grants(get_settings())
    if role is not None:
        console.print(f"app role {role}: working tables read/write, audit_events INSERT/SELECT")
    registered = register_key()
    if registered is not None:
        event_id, new = registered
        if new:
            console.print(f"KEEL_AUDIT_KEY registered (audit event {event_id})")


@group.command("downgrade")
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, e.g. base."),
    i_know: bool = typer.Option(
        False,
        "--i-know",
        help="Downgrade past migration 0003, which makes the audit table append-only.",
    ),
) -> None:
    """Revert the migrations down to REVISION. Past the append-only migration (0003) only
    with --i-know, and then audited first: a `schema_downgrade` event (no message) says
    who and when, and a WARNING log line says it again (it outlives a downgrade to base,
    which drops the audit table)."""
    try:
        current, undone = migrate.downgrade_plan(revision=revision)
    except CommandError as exc:
        err_console.print(f"keel: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    if migrate.APPEND_ONLY_REVISION in undone:
        if not i_know:
            err_console.print(
                f"keel: downgrading to {revision} removes the audit table's append-only guard "
                f"(migration {migrate.APPEND_ONLY_REVISION}); add --i-know to do it anyway",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1)
        event_id = record_downgrade(None, current=current, target=revision)
        console.print(f"audited as event {event_id} (schema_downgrade)")
    migrate.downgrade(revision=revision, i_know=i_know)
    console.print(f"database downgraded to {revision}")
