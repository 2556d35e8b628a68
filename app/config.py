"""Settings from the environment (SPEC 2), validated once by `get_settings()`."""

from __future__ import annotations

import ipaddress
import re
import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigError

# Schemes hosts hand over for Postgres (Heroku: `postgres://`), all run by psycopg 3.
_POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")
_CERT_REQS = {"none": ssl.CERT_NONE, "required": ssl.CERT_REQUIRED}


def normalise_database_url(url: str) -> str:
    """The URL with any Postgres scheme spelled `postgresql+psycopg://`; the rest kept as is.

    Raises:
        ValueError: the scheme is neither SQLite nor Postgres.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _POSTGRES_SCHEMES:
        return f"postgresql+psycopg://{rest}"
    if sep and scheme.lower() == "sqlite":
        return url
    raise ValueError(
        "must start with sqlite://, postgres://, postgresql:// or postgresql+psycopg://"
    )


def is_loopback_host(host: str | None) -> bool:
    """Whether `host` names this machine: `localhost`, 127.0.0.0/8 or ::1."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A reviewer's name as the audit records it, and the shortest token a reviewer key may have
# (the review page's sign-in form is on the public web port).
_REVIEWER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
REVIEWER_TOKEN_MIN_CHARS = 16


def parse_reviewer_keys(value: str) -> dict[str, str]:
    """`name:token,name:token` as `{name: token}`; blanks between commas are ignored.

    Raises:
        ValueError: an entry without a name or token, a name that is not a plain word
            (letters, digits, `_.@-`, at most 64), a token shorter than 16 characters or
            with a comma or space in it, or a name or token given twice.
    """
    keys: dict[str, str] = {}
    for position, entry in enumerate((e.strip() for e in value.split(",")), start=1):
        if not entry:
            continue
        name, sep, token = entry.partition(":")
        if not sep or not name or not token:
            raise ValueError(f"entry {position} is not name:token")
        if not _REVIEWER_NAME.match(name):
            raise ValueError(
                f"entry {position}: the name must be letters, digits or _.@- (at most 64)"
            )
        if len(token) < REVIEWER_TOKEN_MIN_CHARS or any(c.isspace() for c in token):
            raise ValueError(
                f"entry {position} ({name}): the token must be at least "
                f"{REVIEWER_TOKEN_MIN_CHARS} characters, without spaces"
            )
        if name in keys:
            raise ValueError(f"the name {name} is given twice")
        if token in keys.values():
            raise ValueError(f"entry {position} ({name}) reuses another reviewer's token")
        keys[name] = token
    return keys


def check_webhook_url(url: str) -> str:
    """`url` if it is `https://`, or `http://` to a loopback address (a local receiver).

    Raises:
        ValueError: any other scheme, or plain http to another host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not parts.netloc or scheme not in ("http", "https"):
        raise ValueError("must be an https:// URL")
    if scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("must be https:// (plain http:// only to localhost, 127.0.0.0/8 or ::1)")
    return url


class Settings(BaseSettings):
    """Every knob Keel reads from the environment."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    redis_url: str = "redis://localhost:6379/0"
    # `rediss://` only: whether the server's certificate must verify (Heroku's is self-signed).
    keel_redis_tls_verify: Literal["none", "required"] = "required"
    database_url: str = "sqlite:///./keel.db"
    # A lesser role for the running processes; `release` migrates with DATABASE_URL.
    keel_app_database_url: str | None = None
    keel_policy: Path | None = None
    keel_api_keys: str = ""
    # `name:token` pairs: the only keys that open the review endpoints and page (SPEC 2).
    keel_reviewer_keys: str = ""
    keel_webhook_url: str | None = None
    # Validated even when unset: a webhook URL without it fails at start.
    keel_webhook_secret: str | None = Field(default=None, validate_default=True)
    # HMAC key of the audit chains, kept outside the database; unset: plain SHA-256.
    keel_audit_key: str | None = Field(default=None, min_length=16)
    # Prefix of every Redis key Keel and Celery write, so deployments and tests can share a server.
    keel_namespace: str = Field(default="keel", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    keel_max_body_bytes: int = Field(default=64 * 1024, gt=0)
    keel_model_timeout_s: float = Field(default=20.0, gt=0, le=60)
    keel_webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    sentry_dsn: str | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0, le=1)
    sentry_environment: str | None = None
    # Trace export (SPEC 13) is on with OTEL_EXPORTER_OTLP_ENDPOINT, read by the SDK itself.
    # Prompts and replies leave in spans only with this set.
    keel_trace_content: bool = False
    # Salt of the contact's hash in traces (`langfuse.user.id`); unset: derived from
    # KEEL_AUDIT_KEY; neither: no user id is exported.
    keel_trace_salt: str | None = Field(default=None, min_length=16)
    flower_basic_auth: str | None = None
    port: int = Field(default=8000, ge=1, le=65535)
    # /metrics: on the web port behind this bearer key, and/or on a port of its own
    # (no key there: keep that port off the public network). Neither: no /metrics.
    keel_metrics_key: str | None = None
    keel_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Processes of the web server; a worker's pool and its concurrency (threads, or
    # processes with prefork). Unset: the Procfile's defaults (README, "Sizing").
    web_concurrency: int | None = Field(default=None, gt=0)
    worker_pool: Literal["threads", "prefork"] | None = None
    worker_concurrency: int | None = Field(default=None, gt=0, validate_default=True)
    # Processes of a threads-pool worker, forked after its warm-up (app/broker/processes.py);
    # WORKER_CONCURRENCY threads each. Unset here: 1; the Procfile's default is 2.
    worker_processes: int = Field(default=1, ge=1, le=16)
    # Seconds a SIGTERMed worker gives running tasks before putting them back on the queue:
    # inside Heroku's 30 s before SIGKILL (a platform with a shorter stop timeout sets less).
    keel_soft_shutdown_s: float = Field(default=20.0, ge=0, le=25)
    # A worker that consumes the next step's queue runs that step in the same task
    # instead of a round trip through Redis (app/pipeline/task.py); false: one step per task.
    keel_run_on: bool = True

    @field_validator("database_url", "keel_app_database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        return None if value is None else normalise_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("keel_reviewer_keys")
    @classmethod
    def _reviewer_keys(cls, value: str, info: ValidationInfo) -> str:
        reviewers = parse_reviewer_keys(value)
        ingest = {k.strip() for k in str(info.data.get("keel_api_keys", "")).split(",")}
        for name, token in reviewers.items():
            if token in ingest:
                raise ValueError(f"{name}'s token is also in KEEL_API_KEYS; give it its own")
        return value

    @field_validator("keel_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return None if value is None else check_webhook_url(value)

    @field_validator("keel_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("keel_webhook_url") and not value:
            raise ValueError("must be set when KEEL_WEBHOOK_URL is (every POST is signed)")
        return value

    @field_validator("keel_metrics_port")
    @classmethod
    def _metrics_port(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and value == info.data.get("port"):
            raise ValueError("must differ from PORT (the web port)")
        return value

    @field_validator("worker_concurrency")
    @classmethod
    def _prefork_sized(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("worker_pool") == "prefork":
            raise ValueError(
                "must be set with WORKER_POOL=prefork (processes, about 180 MiB each; "
                "the Procfile's default is sized for threads)"
            )
        return value

    @field_validator("keel_redis_tls_verify", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "keel_webhook_url",
        "keel_webhook_secret",
        "keel_audit_key",
        "keel_metrics_key",
        "keel_metrics_port",
        "sentry_dsn",
        "keel_trace_salt",
        "keel_app_database_url",
        "web_concurrency",
        "worker_pool",
        "worker_concurrency",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def api_keys(self) -> list[str]:
        return [k.strip() for k in self.keel_api_keys.split(",") if k.strip()]

    @property
    def reviewer_keys(self) -> dict[str, str]:
        """Reviewer tokens by the name the audit records."""
        return parse_reviewer_keys(self.keel_reviewer_keys)

    @property
    def app_database_url(self) -> str:
        """The URL the running processes use: the lesser role if set, else DATABASE_URL."""
        return self.keel_app_database_url or self.database_url

    def redis_ssl_options(self) -> dict[str, Any] | None:
        """TLS options for a `rediss://` REDIS_URL; None for `redis://` and `unix://`.

        One dict for every client: redis-py takes it as keyword arguments
        (`Redis.from_url(url, **options)`); Celery takes it unchanged as `broker_use_ssl`
        (kombu's Redis transport passes it to redis-py's `SSLConnection`; Flower reads the
        same setting for its broker view) and as `redis_backend_use_ssl` (the Redis result
        backend); kombu takes it as `Connection(url, ssl=options)`. Its one key,
        `ssl_cert_reqs`, is `ssl.CERT_NONE` or `ssl.CERT_REQUIRED` (the constant, not its
        name). Without it kombu silently falls back to CERT_NONE and redis-py to
        CERT_REQUIRED, so every client must be given it.
        """
        if not self.redis_url.startswith("rediss://"):
            return None
        return {"ssl_cert_reqs": _CERT_REQS[self.keel_redis_tls_verify]}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Build the settings once per process.

    Raises:
        ConfigError: one line naming the first bad variable.
    """
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"{name}: {first['msg']}") from exc


def reset_settings() -> None:
    """Forget cached settings (tests and the demo change the environment)."""
    get_settings.cache_clear()
