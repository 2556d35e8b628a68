"""Engines per process (re-made after a fork) and the one way to open a transaction."""

from __future__ import annotations

import os
import threading
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
_lock = threading.Lock()  # a worker's threads make the process's engine once
# Connections a Postgres engine keeps open, and how many more it may open under load:
# 50 in all covers the API's 40 request threads; a worker's thread pool raises the
# overflow to its thread count (`fit_pool`), so no task waits on another's connection.
# Connections open only when used at once: a thread waiting on a model holds none.
POOL_SIZE = 10
_max_overflow = 40
# How long a transaction waits for a connection when all are busy (SQLAlchemy's default is
# 30 s); then sa.exc.TimeoutError, which the API answers with 503 and Retry-After.
POOL_TIMEOUT_S = 10.0


def fit_pool(threads: int) -> None:
    """Let engines made from now on open a connection for each of `threads` at once
    (and POOL_SIZE more, for a step that holds two). A worker calls it at start."""
    global _max_overflow
    _max_overflow = max(_max_overflow, threads)


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
    KEEL_APP_DATABASE_URL if set, else DATABASE_URL (migrations pass the owner's).

    `hide_parameters`: a database error's message never carries the statement's
    parameters (a message's text, a contact's name) into logs or Sentry."""
    url = url or get_settings().app_database_url
    key = (url, os.getpid())
    engine = _engines.get(key)
    if engine is None:
        with _lock:
            engine = _engines.get(key) or _make_engine(url)
            _engines[key] = engine
    return engine


def _make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        url,
        pool_pre_ping=_pre_ping,
        pool_size=POOL_SIZE,
        max_overflow=_max_overflow,
        pool_timeout=POOL_TIMEOUT_S,
        pool_recycle=300,
        hide_parameters=True,
    )


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
