"""Settings from the environment (SPEC 2), validated once by `get_settings()`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigError


class Settings(BaseSettings):
    """Every knob Keel reads from the environment."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    redis_url: str = "redis://localhost:6379/0"
    database_url: str = "sqlite:///./keel.db"
    keel_policy: Path | None = None
    keel_api_keys: str = ""
    keel_webhook_url: str | None = None
    keel_webhook_secret: str | None = None
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
    flower_basic_auth: str | None = None
    port: int = Field(default=8000, ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("keel_webhook_url", "keel_webhook_secret", "sentry_dsn", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def api_keys(self) -> list[str]:
        return [k.strip() for k in self.keel_api_keys.split(",") if k.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


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
