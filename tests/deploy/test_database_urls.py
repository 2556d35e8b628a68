"""DATABASE_URL and KEEL_APP_DATABASE_URL are accepted as hosts hand them over
(Heroku: `postgres://`) and always reach psycopg 3."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from app.config import Settings, get_settings, normalise_database_url
from app.db import get_engine
from app.errors import ConfigError


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        (
            "postgres://u:p@db.example.com:5432/keel",
            "postgresql+psycopg://u:p@db.example.com:5432/keel",
        ),
        ("postgresql://u:p@db.example.com/keel", "postgresql+psycopg://u:p@db.example.com/keel"),
        ("postgresql+psycopg://u@h/keel", "postgresql+psycopg://u@h/keel"),
        ("POSTGRES://u@h/keel", "postgresql+psycopg://u@h/keel"),
        (
            "postgres://u:p@h:5432/d?sslmode=require",
            "postgresql+psycopg://u:p@h:5432/d?sslmode=require",
        ),
        ("sqlite:///./keel.db", "sqlite:///./keel.db"),
        ("sqlite:////tmp/keel.db", "sqlite:////tmp/keel.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_every_form_a_host_hands_over_becomes_a_psycopg_url(given_url: str, expected: str) -> None:
    assert normalise_database_url(given_url) == expected
    assert Settings(database_url=given_url).database_url == expected
    assert Settings(keel_app_database_url=given_url).app_database_url == expected


@pytest.mark.parametrize(
    "bad_url",
    ["mysql://u@h/d", "postgresql+psycopg2://u@h/d", "http://h", "keel.db", "postgres:/h/d"],
)
@pytest.mark.parametrize("name", ["DATABASE_URL", "KEEL_APP_DATABASE_URL"])
def test_an_unknown_database_scheme_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, name: str, bad_url: str
) -> None:
    monkeypatch.setenv(name, bad_url)
    with pytest.raises(ConfigError) as info:
        get_settings()
    message = str(info.value)
    assert message.startswith(f"{name}:")
    assert "postgres://" in message
    assert "\n" not in message


_USER = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
)
_PASSWORD = st.text(
    st.one_of(
        st.sampled_from("@:/?#[]%&=+ !$'()*,;~\\\"`^{}|<>"),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    ),
    min_size=1,
    max_size=40,
)
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True)
_HOST = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
_QUERY = st.dictionaries(
    st.from_regex(r"[a-z_]{1,15}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True),
    max_size=3,
)


@given(
    scheme=st.sampled_from(["postgres", "postgresql", "postgresql+psycopg"]),
    user=_USER,
    password=_PASSWORD,
    host=_HOST,
    port=st.integers(min_value=1, max_value=65535),
    database=_NAME,
    query=_QUERY,
)
def test_a_postgres_url_survives_normalisation_intact_except_for_its_scheme(
    scheme: str,
    user: str,
    password: str,
    host: str,
    port: int,
    database: str,
    query: dict[str, str],
) -> None:
    rest = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}"
    if query:
        rest += "?" + urlencode(query)

    normalised = Settings(database_url=f"{scheme}://{rest}").database_url

    assert normalised == f"postgresql+psycopg://{rest}"
    parsed = make_url(normalised)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.username, parsed.password) == (user, password)
    assert (parsed.host, parsed.port, parsed.database) == (host, port, database)
    assert dict(parsed.query) == query


def test_the_app_role_falls_back_to_database_url(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://owner@h/keel")
    monkeypatch.setenv("KEEL_APP_DATABASE_URL", "")

    settings = get_settings()

    assert settings.keel_app_database_url is None
    assert settings.app_database_url == "postgresql+psycopg://owner@h/keel"


def test_the_app_role_is_used_when_set(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://owner@h/keel")
    monkeypatch.setenv("KEEL_APP_DATABASE_URL", "postgres://keel_app:pw@h/keel?sslmode=require")

    settings = get_settings()

    assert settings.database_url == "postgresql+psycopg://owner@h/keel"
    assert settings.app_database_url == "postgresql+psycopg://keel_app:pw@h/keel?sslmode=require"


def test_a_heroku_style_postgres_url_reaches_a_real_database_with_its_query_string(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, pg_url: str
) -> None:
    # Given the test database's URL spelled as Heroku Postgres spells it
    heroku_url = pg_url.replace("postgresql+psycopg://", "postgres://", 1)
    monkeypatch.setenv("DATABASE_URL", f"{heroku_url}?application_name=keel-deploy-test")

    # When Keel opens its engine from the settings
    engine = get_engine(get_settings().database_url)
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT current_setting('application_name')")).scalar_one()
        database = conn.execute(sa.text("SELECT current_database()")).scalar_one()

    # Then psycopg 3 connected to that database and the query string reached the server
    assert engine.dialect.driver == "psycopg"
    assert name == "keel-deploy-test"
    assert database == make_url(pg_url).database
