"""Alembic, driven from Python: `keel db upgrade` and the migration tests use this.

A downgrade that would undo the append-only migration (0003, the triggers that refuse
UPDATE, DELETE and TRUNCATE on `audit_events`) is refused unless the caller says
`i_know=True`, and then logged at WARNING with who ran it.
"""

from __future__ import annotations

import getpass
import logging
import socket
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.config import get_settings
from app.db.engine import get_engine
from app.errors import KeelError

ROOT = Path(__file__).resolve().parents[2]
APPEND_ONLY_REVISION = "0003"

log = logging.getLogger("keel.db")


class AppendOnlyDowngrade(KeelError):
    """Raised when a downgrade would remove the audit table's append-only guard and the
    caller did not say it knows (`i_know`)."""


def os_user() -> str:
    """Who runs this process, as the OS knows them ("unknown" in a container without
    a passwd entry)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().database_url)
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade_plan(url: str | None = None, revision: str = "base") -> tuple[list[str], list[str]]:
    """The database's current revisions and those a downgrade to `revision` would undo,
    newest first.

    Raises:
        alembic.util.CommandError: `revision` is no downgrade target from here.
    """
    cfg = alembic_config(url)
    with get_engine(cfg.get_main_option("sqlalchemy.url")).connect() as conn:
        current = list(MigrationContext.configure(conn).get_current_heads())
    if not current:
        return current, []
    script = ScriptDirectory.from_config(cfg)
    undone = script.iterate_revisions(tuple(current), revision, select_for_downgrade=True)
    return current, [s.revision for s in undone]


def removes_append_only(url: str | None = None, revision: str = "base") -> bool:
    """Whether downgrading to `revision` undoes the append-only migration."""
    return APPEND_ONLY_REVISION in downgrade_plan(url, revision)[1]


def downgrade(url: str | None = None, revision: str = "base", *, i_know: bool = False) -> None:
    """Revert the migrations down to `revision`.

    Raises:
        AppendOnlyDowngrade: it would undo the append-only migration without `i_know`.
    """
    current, undone = downgrade_plan(url, revision)
    if APPEND_ONLY_REVISION in undone:
        if not i_know:
            raise AppendOnlyDowngrade(
                f"downgrading to {revision} removes the audit table's append-only guard "
                f"(migration {APPEND_ONLY_REVISION}); say --i-know to do it anyway"
            )
        log.warning(
            "downgrading from %s to %s removes the audit table's append-only guard "
            "(migration %s), run by %s on %s",
            ",".join(current),
            revision,
            APPEND_ONLY_REVISION,
            os_user(),
            socket.gethostname(),
        )
    command.downgrade(alembic_config(url), revision)
