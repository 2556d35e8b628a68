"""The inbound message as clients send it (SPEC 4), validated strictly."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TEXT_CHARS = 8000
Channel = Literal["whatsapp", "email", "sms", "web"]


EARLIEST_RECEIVED_AT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MAX_CLOCK_SKEW = dt.timedelta(days=1)
MAX_METADATA_DEPTH = 20


def _check_json_value(value: object, *, depth: int) -> None:
    """Metadata is stored as JSON: NaN and infinities (which Python's parser accepts and
    Postgres refuses) and absurd nesting are refused here, as a 422."""
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"nested deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (no NaN or Infinity)")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json_value(key, depth=depth + 1)
            _check_json_value(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json_value(item, depth=depth + 1)


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=35)

    @field_validator("id", "name", "locale")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return _no_nul(value)

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _no_nul(value)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class MessageIn(BaseModel):
    """`POST /v1/messages` body."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=200)
    channel: Channel
    contact: ContactIn
    text: str = Field(max_length=MAX_TEXT_CHARS)
    conversation_id: str | None = Field(default=None, max_length=200)
    received_at: dt.datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("external_id", "conversation_id")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return _no_nul(value)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        _no_nul(value)
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("received_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str | dt.datetime):
            raise ValueError("must be an ISO 8601 date-time string")
        return value

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        latest = dt.datetime.now(dt.UTC) + MAX_CLOCK_SKEW
        if not EARLIEST_RECEIVED_AT <= value <= latest:
            raise ValueError(f"must be between {EARLIEST_RECEIVED_AT:%Y-%m-%d} and a day from now")
        return value

    @field_validator("metadata")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_value(value, depth=0)
        return value


MAX_BATCH = 500
MessageList = Annotated[list[MessageIn], Field(min_length=1, max_length=MAX_BATCH)]


class BatchIn(BaseModel):
    """`POST /v1/messages:batch`: up to 500 messages, as `{"messages": [...]}` (a bare
    array is accepted too)."""

    model_config = ConfigDict(extra="forbid")

    messages: MessageList
