"""Engines per process (re-made after a fork) and the one way to open a transaction."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.config import get_settings

_engines: dict[tuple[str, int], sa.Engine] = {}
# Ping each pooled connection before handing it out (one more round trip per
# transaction). The API and the CLI keep it; workers turn it off (`skip_pre_ping`).
_pre_ping = True
_readers: dict[sa.Engine, sa.Engine] = {}  # engine -> the same pool in autocommit


def skip_pre_ping() -> None:
    """Workers: no ping per checkout. A connection Postgres dropped fails one step with
    an OperationalError, which the task retries (tasks/pipeline.py); SQLAlchemy then
    recycles every connection of the pool that predates the error."""
    global _pre_ping
    _pre_ping = False


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str | None = None) -> sa.Engine:
    """The engine for `url` in this process. Default: the running processes' URL,
    KEEL_APP_DATABASE_URL if set, else DATABASE_URL (migrations pass the owner's)."""
    url = url or get_settings().app_database_url
    key = (url, os.getpid())
    engine = _engines.get(key)
    if engine is None:
        if url.startswith("sqlite"):
            engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(
                url, pool_pre_ping=_pre_ping, pool_size=10, max_overflow=40, pool_recycle=300
            )
        _engines[key] = engine
    return engine


def reset_engines() -> None:
    """Drop every engine of this process (tests point DATABASE_URL elsewhere)."""
    for (_, pid), engine in list(_engines.items()):
        if pid == os.getpid():
            engine.dispose()
    _engines.clear()
    _readers.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def autocommit_connection(url: str | None = None) -> Iterator[sa.Connection]:
    """A connection in autocommit: every statement commits alone, with no BEGIN and no
    COMMIT round trips. For single reads and single-statement writes; writes that must
    commit together belong in `session_scope`."""
    engine = get_engine(url)
    reader = _readers.get(engine)
    if reader is None:
        reader = _readers[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    with reader.connect() as conn:
        yield conn
