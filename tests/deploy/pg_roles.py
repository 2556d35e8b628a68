"""A second, lesser Postgres login role, as a Heroku Postgres credential is: it owns
nothing and gets only what `keel db upgrade` grants it.

Use it from a fixture: `with login_role(pg_url) as role: ... role.url`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class AppRole:
    """A login role and the test database's URL as it."""

    name: str
    url: str  # postgres://, as Heroku hands a credential over

    @property
    def dsn(self) -> str:
        """The same URL for psycopg itself."""
        return self.url.replace("postgres://", "postgresql://", 1)


def heroku_url(url: str, *, username: str | None = None, password: str | None = None) -> str:
    """A SQLAlchemy Postgres URL spelled as Heroku Postgres spells it (`postgres://`),
    with another user (and password) if given."""
    parsed = make_url(url).set(drivername="postgres")
    if username is not None:
        parsed = parsed.set(username=username, password=password)
    return parsed.render_as_string(hide_password=False)


def psycopg_dsn(url: str) -> str:
    """A SQLAlchemy Postgres URL as psycopg itself takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def login_role(pg_url: str) -> Iterator[AppRole]:
    """A fresh LOGIN role with a password and no privileges on `pg_url`'s database, dropped
    afterwards with whatever was granted to it there. `pg_url`'s user must be able to
    create roles (the test cluster's superuser)."""
    name = f"keel_app_{secrets.token_hex(5)}"
    password = secrets.token_urlsafe(16)
    admin_dsn = psycopg_dsn(pg_url)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
    try:
        yield AppRole(name=name, url=heroku_url(pg_url, username=name, password=password))
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
