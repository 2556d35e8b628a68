"""Typed models of the policy file; validation happens here, once, at start."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KEEL_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the `app` package
TierName = Literal["fast", "standard", "flagship"]
TIER_ORDER: tuple[TierName, ...] = ("fast", "standard", "flagship")
Provider = Literal["anthropic", "openai"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRef(_Strict):
    """One `provider:model` entry of a tier's failover chain."""

    provider: Provider
    model: str

    @classmethod
    def parse(cls, ref: str) -> ModelRef:
        provider, sep, model = ref.partition(":")
        if not sep or not model:
            raise ValueError(f"expected 'provider:model', got {ref!r}")
        return cls(provider=provider, model=model)

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}"


class Tier(_Strict):
    chain: tuple[ModelRef, ...] = Field(min_length=1)

    @field_validator("chain", mode="before")
    @classmethod
    def _parse_refs(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(ModelRef.parse(v) if isinstance(v, str) else v for v in value)
        return value


class ModelPrice(_Strict):
    """A model's list prices in USD per million tokens. A prompt-cache write and read
    have prices of their own (Anthropic: 1.25x and 0.1x the input price for the 5-minute
    cache; OpenAI: no write premium, cached input at a tenth or so); left out, they cost
    what input costs."""

    input_per_mtok_usd: Decimal = Field(ge=0)
    output_per_mtok_usd: Decimal = Field(ge=0)
    cache_write_per_mtok_usd: Decimal | None = Field(default=None, ge=0)
    cache_read_per_mtok_usd: Decimal | None = Field(default=None, ge=0)

    def cost_usd(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        cache_write_tokens: int = 0,
        cache_read_tokens: int = 0,
    ) -> Decimal:
        """Cost of one call from its real usage; `input_tokens` counts every prompt token,
        the ones written to or read from the prompt cache included."""
        million = Decimal(1_000_000)
        uncached = max(0, input_tokens - cache_write_tokens - cache_read_tokens)
        write = self.cache_write_per_mtok_usd
        read = self.cache_read_per_mtok_usd
        return (
            Decimal(uncached) * self.input_per_mtok_usd
            + Decimal(cache_write_tokens) * (self.input_per_mtok_usd if write is None else write)
            + Decimal(cache_read_tokens) * (self.input_per_mtok_usd if read is None else read)
            + Decimal(output_tokens) * self.output_per_mtok_usd
        ) / million


class Business(_Strict):
    name: str
    languages: tuple[str, ...] = ("es", "pt", "en")
    default_timezone: str = "UTC"
    own_emails: tuple[str, ...] = ()
    own_phones: tuple[str, ...] = ()
    currency_by_language: dict[str, str] = Field(default_factory=dict)
    # What a reply may draw on besides the catalog (courses, schedules, how to enrol):
    # part of every draft prompt's cacheable prefix. Prices belong in the catalog.
    knowledge: str = ""

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class Routing(_Strict):
    classify_tier: TierName = "fast"
    draft_tier: TierName = "standard"
    intents: tuple[str, ...] = Field(min_length=1)
    flagship_intents: tuple[str, ...] = ()
    # The tier that drafts an intent, where it is not draft_tier (flagship_intents and
    # mid-confidence classifications still go to the flagship).
    draft_tiers: dict[str, TierName] = Field(default_factory=dict)
    escalate_intents: tuple[str, ...] = ()
    no_reply_intents: tuple[str, ...] = ()
    escalate_below_confidence: float = Field(default=0.6, ge=0, le=1)
    flagship_below_confidence: float = Field(default=0.0, ge=0, le=1)
    borrow_neighbour_tier: bool = True
    daily_budget_usd: Decimal | None = Field(default=None, ge=0)
    over_budget: Literal["downgrade", "park"] = "downgrade"
    # Tier 0: a model file from `keel train`; None calls the classify tier for every message.
    local_model: str | None = None
    # Confidence a local answer needs; None uses the threshold stored in the model file.
    local_min_confidence: float | None = Field(default=None, ge=0, le=1)
    # The model file's SHA-256 pinned here, where whoever can write the model's folder
    # cannot change it: a file that does not match is not loaded (classification then
    # falls back to the classify tier, with an alert).
    local_model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # Ask for classifications with the providers' structured outputs (OpenAI's JSON
    # schema, Anthropic's forced tool call); off for endpoints that refuse them.
    structured_outputs: bool = True

    @field_validator("local_model")
    @classmethod
    def _model_file_present(cls, value: str | None) -> str | None:
        if not value:
            return None
        # A relative path is looked for from the working directory, then from the folder
        # that holds Keel's `app` package (the bundled model, wherever Keel is started)
        for candidate in (Path(value), KEEL_ROOT / value):
            if candidate.is_file() and Path(f"{candidate}.sha256").is_file():
                return str(candidate)
        raise ValueError(f"no model file with a .sha256 sidecar at {value!r}")

    @model_validator(mode="after")
    def _intents_known(self) -> Routing:
        known = set(self.intents)
        for name in ("flagship_intents", "escalate_intents", "no_reply_intents", "draft_tiers"):
            unknown = set(getattr(self, name)) - known
            if unknown:
                raise ValueError(f"routing.{name} names unknown intents: {sorted(unknown)}")
        return self


class SendWindow(_Strict):
    start: dt.time = dt.time(8, 0)
    end: dt.time = dt.time(21, 0)


class CatalogItem(_Strict):
    sku: str
    names: dict[str, str]
    prices: dict[str, Decimal]

    @field_validator("prices")
    @classmethod
    def _positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, amount in value.items():
            if len(currency) != 3 or not currency.isupper():
                raise ValueError(f"currency must be an ISO 4217 code, got {currency!r}")
            if amount <= 0:
                raise ValueError(f"price of {currency} must be positive")
        return value


class Guardrails(_Strict):
    catalog: tuple[CatalogItem, ...] = ()
    discounts_percent: tuple[Decimal, ...] = ()
    promises: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    allowed_link_domains: tuple[str, ...] = ()
    send_window: SendWindow = SendWindow()
    reply_max_chars: dict[str, int] = Field(default_factory=dict)
    # What a message that trips the injection screen gets: a human, or a strict
    # flagship draft (still checked like any other).
    on_injection: Literal["escalate", "flagship"] = "escalate"
    # Redrafts at the next tier up after a blocked draft, before escalating.
    max_regenerations: int = Field(default=1, ge=0, le=3)
    # Drafts with fewer letters than this are not judged for language.
    reply_language_min_letters: int = Field(default=40, ge=1)
    # Names left out before judging a draft's language (the business name always is).
    language_ignore: tuple[str, ...] = ()
    # Consecutive words shared with the prompts' instructions that make a prompt echo.
    echo_min_words: int = Field(default=6, ge=3)

    def catalog_amounts(self) -> dict[str, frozenset[Decimal]]:
        """Every catalog price, by currency."""
        out: dict[str, set[Decimal]] = {}
        for item in self.catalog:
            for currency, amount in item.prices.items():
                out.setdefault(currency, set()).add(amount)
        return {c: frozenset(a) for c, a in out.items()}


class Retries(_Strict):
    attempts_per_step: int = Field(default=5, ge=1, le=50)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    max_park_age_s: float = Field(default=86_400, gt=0)
    drain_rate_per_s: float = Field(default=20.0, gt=0)
    stalled_after_s: float = Field(default=120, gt=0)
    # A task whose worker died this many times for one message is dead-lettered `poison`.
    poison_after_crashes: int = Field(default=3, ge=1, le=100)
    # How often a tier with parked messages is probed with a tiny request.
    probe_interval_s: float = Field(default=5.0, gt=0)

    def backoff_s(self, attempt: int, hint_s: float | None = None) -> float:
        """Exponential backoff before retry `attempt` (1, 2, ...), capped at
        `backoff_max_s`; a provider's or receiver's retry-after wins when longer."""
        doublings = min(max(attempt - 1, 0), 64)  # past 2**64 the cap has long won
        base = min(self.backoff_max_s, self.backoff_base_s * 2.0**doublings)
        return min(self.backoff_max_s, max(base, hint_s or 0.0))


class Breakers(_Strict):
    """Circuit breaker per provider:model, shared by every worker through Redis."""

    window_s: float = Field(default=30.0, gt=0)
    min_calls: int = Field(default=5, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    slow_call_s: float = Field(default=8.0, gt=0)
    slow_rate: float = Field(default=0.8, gt=0, le=1)
    open_s: float = Field(default=15.0, gt=0)


class Conversations(_Strict):
    """SPEC 11: context in drafts, bursts, human handoff, the opt-out confirmation."""

    # Messages of one conversation less than this apart are answered once, after quiet.
    coalesce_s: float = Field(default=8.0, ge=0, le=300)
    history_turns: int = Field(default=10, ge=0, le=100)
    history_chars: int = Field(default=4000, ge=0, le=50_000)
    # How long Keel stays quiet in a conversation after a person's last action there.
    handoff_ttl_s: float = Field(default=86_400, gt=0)
    # The one line an opted-out contact may still receive, per language (none: nothing).
    opt_out_confirmation: dict[str, str] = Field(default_factory=dict)


class Channel(_Strict):
    # A free-form reply may go out at most this long after the customer's last message
    # (WhatsApp's customer-service window: 24 h); None: no limit.
    reply_window_h: float | None = Field(default=None, gt=0)


class Outcomes(_Strict):
    """SPEC 12: the kinds of downstream outcome a client may record."""

    kinds: tuple[str, ...] = ("enrolled", "booked_call", "lost")


class Policy(_Strict):
    business: Business
    tiers: dict[TierName, Tier]
    prices: dict[str, ModelPrice]
    routing: Routing
    guardrails: Guardrails = Guardrails()
    retries: Retries = Retries()
    breakers: Breakers = Breakers()
    conversations: Conversations = Conversations()
    channels: dict[str, Channel] = Field(default_factory=dict)
    outcomes: Outcomes = Outcomes()

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = [t for t in TIER_ORDER if t not in self.tiers]
        if missing:
            raise ValueError(f"tiers missing: {missing}")
        for tier_name, tier in self.tiers.items():
            for ref in tier.chain:
                if ref.key not in self.prices:
                    raise ValueError(f"tiers.{tier_name}: no price for {ref.key}")
        return self

    def reply_window_h(self, channel: str) -> float | None:
        found = self.channels.get(channel)
        return found.reply_window_h if found else None

    def price_of(self, ref: ModelRef) -> ModelPrice:
        return self.prices[ref.key]

    def providers(self) -> set[str]:
        return {ref.provider for tier in self.tiers.values() for ref in tier.chain}

    def currency_for(self, language: str | None) -> str:
        by_lang = self.business.currency_by_language
        if language and language in by_lang:
            return by_lang[language]
        return next(iter(by_lang.values()), "USD")
