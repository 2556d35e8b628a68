"""An outcome as clients send it (SPEC 12), validated strictly, and what the API answers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal

from babel.numbers import list_currencies
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Channel = Literal["whatsapp", "email", "sms", "web"]

# A money amount as a decimal string: digits, then at most 2 decimals; no sign, exponent,
# spaces, NaN or Infinity. At most 9 integer digits: 999,999,999.99 is already absurd.
_AMOUNT = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
ISO_CURRENCIES = frozenset(c for c in list_currencies() if _CURRENCY.fullmatch(c))
# An occurred_at outside these years is a client's bug (epoch zero, a typo), not a sale.
MIN_YEAR, MAX_YEAR = 2000, 2099


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


class OutcomeIn(BaseModel):
    """`POST /v1/outcomes` body: one of `conversation_id` or `message_id` names where."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=200)
    channel: Channel
    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)
    message_id: str | None = Field(default=None, min_length=1, max_length=36)
    kind: str = Field(min_length=1, max_length=64)
    value: str | None = Field(
        default=None,
        description='A decimal string such as "450.00": no sign, at most 2 decimals.',
        examples=["450.00"],
    )
    currency: str | None = Field(
        default=None, description="ISO 4217 code, upper case; required with a value."
    )
    occurred_at: dt.datetime | None = Field(
        default=None, description="ISO 8601; a time without an offset is taken as UTC."
    )

    @field_validator("external_id", "conversation_id", "message_id", "kind")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return _no_nul(value)

    @field_validator("value", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError('must be a decimal string such as "450.00", not a JSON number')
        if not _AMOUNT.fullmatch(value):
            raise ValueError(
                'must be a decimal string such as "450.00": digits, at most 2 decimals, '
                "no sign, below 1,000,000,000"
            )
        return value

    @field_validator("currency", mode="before")
    @classmethod
    def _iso_4217(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or value not in ISO_CURRENCIES:
            raise ValueError('must be an upper-case ISO 4217 code such as "EUR"')
        return value

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _iso_8601_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an ISO 8601 time as a string")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _plausible(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        if not MIN_YEAR <= value.astimezone(dt.UTC).year <= MAX_YEAR:
            raise ValueError(f"must fall between the years {MIN_YEAR} and {MAX_YEAR}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OutcomeIn:
        if (self.conversation_id is None) == (self.message_id is None):
            raise ValueError("give exactly one of conversation_id or message_id")
        if self.value is not None and self.currency is None:
            raise ValueError("currency is required when value is given")
        return self

    @property
    def amount(self) -> Decimal | None:
        """`value` as a Decimal with two places."""
        return None if self.value is None else Decimal(self.value).quantize(Decimal("0.01"))


class OutcomeAccepted(BaseModel):
    """The answer to `POST /v1/outcomes`: the outcome's id, and whether it was a repeat."""

    id: str
    duplicate: bool
