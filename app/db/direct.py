"""The worker's hot-path statements, run in autocommit straight through the driver.

A statement through SQLAlchemy costs about 0.2 ms of CPU on top of psycopg's own
(characteristics set and reset per checkout, the cache key, parameter and result
processing, events): a fifth of a worker's CPU per message at a dozen statements. For
a statement built once (a module constant or cached by shape), `execute` compiles it
once per engine and then sends the compiled SQL through psycopg on a connection of the
same pool, with the bind and result processors SQLAlchemy itself would apply: the rows
come back as SQLAlchemy reads them. Errors come out as SQLAlchemy's (`IntegrityError`,
`OperationalError`, with no parameters in their message), and a lost connection
recycles the pool, as a pooled SQLAlchemy connection would.

On SQLite it is `autocommit_connection().execute`. A statement built per call has no
place here (each distinct object is compiled and kept): build it once, with bindparams.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from app.db.engine import autocommit_connection, get_engine

Processor = Callable[[Any], Any]


@dataclass
class Rows:
    """A statement's result, read to the end: its rows as dicts, and the rows it changed."""

    rows: list[dict[str, Any]]
    rowcount: int

    def first(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        """The first column of the first row, None without a row."""
        return next(iter(self.rows[0].values())) if self.rows else None


@dataclass
class _Compiled:
    statement: sa.Executable  # held, so its id is not reused while cached
    compiled: SQLCompiler
    sql: str
    binds: dict[str, Processor]  # parameter name -> processor, for those that have one
    returns: bool  # whether it returns rows
    # result column name -> processor; made at the first result (they need its types)
    results: list[tuple[str, Processor | None]] | None = field(default=None)


_compiled: dict[tuple[int, int], _Compiled] = {}
_lock = threading.Lock()


def execute(statement: sa.Executable, params: Mapping[str, Any] | None = None) -> Rows:
    """Run `statement` alone in autocommit; `params` by the names of its bindparams.

    Only for statements made once and reused: each distinct object is compiled and kept.
    """
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        return _through_sqlalchemy(statement, params)
    compiled = _compile(engine, statement)
    values = compiled.compiled.construct_params(dict(params or {}))
    for name, process in compiled.binds.items():
        values[name] = process(values[name])
    try:
        fairy = engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as exc:  # could not connect: the pool's error
        lost = engine.dialect.is_disconnect(exc, None, None)
        raise _as_sqlalchemy(engine, exc, sql=None, lost=lost) from exc
    connection: Any = fairy.driver_connection  # a psycopg.Connection
    cursor = None
    try:
        connection.autocommit = True
        cursor = connection.cursor()
        cursor.execute(compiled.sql, values)
        rows = cursor.fetchall() if compiled.returns else []
        rowcount, description = cursor.rowcount, cursor.description
        connection.autocommit = False  # back to the pool as SQLAlchemy's sessions expect it
    except engine.dialect.loaded_dbapi.Error as exc:
        _on_error(engine, fairy, cursor, compiled.sql, exc)
        raise AssertionError("unreachable") from exc
    except BaseException as exc:
        # interrupted (a soft time limit, a signal) with the statement perhaps under way:
        # the connection's state is unknown, so it is closed rather than pooled
        fairy.invalidate(exc)
        raise
    finally:
        fairy.close()
    if not compiled.returns:
        return Rows([], rowcount)
    results = compiled.results
    if results is None:
        assert description is not None
        results = compiled.results = _result_processors(engine, compiled, description)
    return Rows(
        [
            {name: (value if process is None else process(value))
             for (name, process), value in zip(results, row, strict=True)}
            for row in rows
        ],
        rowcount,
    )  # fmt: skip


def one_of(column: sa.ColumnElement[Any], values: Iterable[object]) -> sa.ColumnElement[bool]:
    """`column` equal to one of `values`, for a statement `execute` runs: `in_` renders
    its list per call, which a statement compiled once cannot."""
    return sa.or_(*(column == value for value in values))


def _through_sqlalchemy(statement: sa.Executable, params: Mapping[str, Any] | None) -> Rows:
    with autocommit_connection() as conn:
        result = conn.execute(statement, dict(params or {}))
        rows = [dict(row) for row in result.mappings()] if result.returns_rows else []
        return Rows(rows, result.rowcount)


def _compile(engine: sa.Engine, statement: sa.Executable) -> _Compiled:
    key = (id(engine), id(statement))
    found = _compiled.get(key)
    if found is not None and found.statement is statement:
        return found
    with _lock:
        compiled = statement.compile(dialect=engine.dialect)  # type: ignore[attr-defined]
        assert isinstance(compiled, SQLCompiler)
        if compiled.post_compile_params:
            raise ValueError("an IN list is expanded per call: write it with `one_of`")
        binds: dict[str, Processor] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
            if process is not None:
                binds[name] = process
        returns = bool(compiled.returning) or isinstance(statement, sa.Select)
        made = _Compiled(statement, compiled, compiled.string, binds, returns)
        _compiled[key] = made
        return made


def _result_processors(
    engine: sa.Engine, compiled: _Compiled, description: Any
) -> list[tuple[str, Processor | None]]:
    """Each result column's name and SQLAlchemy's processor for its type (a column or
    label the statement selects; None where the driver's value is used as it is)."""
    columns = {c.key: c for c in compiled.statement.exported_columns}  # type: ignore[attr-defined]
    made: list[tuple[str, Processor | None]] = []
    for column in description:
        selected = columns.get(column.name)
        process = None
        if selected is not None:
            impl = selected.type.dialect_impl(engine.dialect)
            process = impl.result_processor(engine.dialect, column.type_code)
        made.append((column.name, process))
    return made


def _on_error(engine: sa.Engine, fairy: Any, cursor: Any, sql: str, exc: Any) -> None:
    """Raise `exc` as SQLAlchemy would. A lost connection is dropped with every other
    pooled connection opened before the loss (they are likely lost too); any other
    connection goes back to the pool out of autocommit, or is dropped if it cannot be."""
    lost = engine.dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
    if lost:
        fairy.invalidate(exc)
        engine.pool._invalidate(fairy, exc, _checkin=False)  # as Connection does
    else:
        try:
            fairy.driver_connection.autocommit = False
        except engine.dialect.loaded_dbapi.Error:
            fairy.invalidate(exc)
    raise _as_sqlalchemy(engine, exc, sql=sql, lost=lost) from exc


def _as_sqlalchemy(engine: sa.Engine, exc: Any, *, sql: str | None, lost: bool) -> Exception:
    """The driver's error as SQLAlchemy's class for it, with no parameters in its text."""
    return sa.exc.DBAPIError.instance(
        sql,
        None,
        exc,
        engine.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=engine.dialect,
    )
