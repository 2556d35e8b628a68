"""Scenario rules: their validated shape, and the rule book that matches a call to the
first live rule and decides, deterministically, whether its failure fires."""

from __future__ import annotations

import fnmatch
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from app.simulator.wire import Call

LatencyMs = tuple[int, int]


class When(BaseModel):
    """What a rule matches; every given field must match (an empty `when` matches all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["anthropic", "openai"] | None = None
    model: str | None = Field(default=None, description="fnmatch glob, e.g. claude-haiku-*")
    task: str | None = None
    message_id: str | None = None
    contains: str | None = Field(default=None, description="substring of the request text")


class Respond(BaseModel):
    """Answer this `text` instead of the default answer, or the default answer in a
    `style`: `realistic` gives classifications the shapes real models give them
    (app/simulator/realistic.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    style: Literal["realistic"] | None = None

    @model_validator(mode="after")
    def _text_or_style(self) -> Respond:
        if (self.text is None) == (self.style is None):
            raise ValueError("respond needs exactly one of `text` or `style`")
        return self


class Fail(BaseModel):
    """Fail a share (`rate`) of matching calls with an HTTP status or a `mode`.

    Modes: `timeout` holds the request open; `malformed` answers 200 with truncated JSON;
    `wrong_shape` answers 200 with valid JSON in a legacy completion shape (no content);
    `reset` closes the connection without a response.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int | None = Field(default=None, ge=400, le=599)
    mode: Literal["timeout", "malformed", "wrong_shape", "reset"] | None = None
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    retry_after: float | None = Field(default=None, ge=0)
    message: str | None = None

    @model_validator(mode="after")
    def _status_or_mode(self) -> Fail:
        if (self.status is None) == (self.mode is None):
            raise ValueError("fail needs exactly one of `status` or `mode`")
        return self


class Rule(BaseModel):
    """One scenario rule; `fail` wins over `respond` on the calls where it fires."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    when: When = When()
    respond: Respond | None = None
    fail: Fail | None = None
    latency_ms: LatencyMs | None = Field(
        default=None, description="replaces the global latency for matching calls"
    )
    for_seconds: float | None = Field(default=None, gt=0)
    times: int | None = Field(default=None, ge=1, description="expire after this many matches")

    @field_validator("latency_ms", mode="before")
    @classmethod
    def _latency_pair(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (int(value), int(value))
        return value

    @field_validator("latency_ms")
    @classmethod
    def _latency_order(cls, value: LatencyMs | None) -> LatencyMs | None:
        if value is not None and not 0 <= value[0] <= value[1]:
            raise ValueError("latency_ms must be A or [A, B] with 0 <= A <= B")
        return value


RULES = TypeAdapter(list[Rule])


def parse_rules(data: Any) -> list[Rule]:
    """Rules from a single rule, a list of rules or `{"rules": [...]}`.

    Raises:
        pydantic.ValidationError: a rule is malformed.
    """
    if isinstance(data, dict) and set(data) == {"rules"}:
        data = data["rules"]
    if isinstance(data, dict):
        return [Rule.model_validate(data)]
    return RULES.validate_python(data)


@dataclass
class LiveRule:
    """A rule in the book, with its expiry and counters."""

    rule: Rule
    added_at: float
    model_re: re.Pattern[str] | None = None
    matched: int = 0
    fired: int = 0
    expires_at: float | None = field(default=None)

    @classmethod
    def of(cls, rule: Rule, now: float) -> LiveRule:
        pattern = rule.when.model
        return cls(
            rule=rule,
            added_at=now,
            model_re=re.compile(fnmatch.translate(pattern)) if pattern else None,
            expires_at=now + rule.for_seconds if rule.for_seconds else None,
        )

    def expired(self, now: float) -> bool:
        if self.expires_at is not None and now >= self.expires_at:
            return True
        return self.rule.times is not None and self.matched >= self.rule.times

    def matches(self, call: Call) -> bool:
        when = self.rule.when
        if when.provider is not None and when.provider != call.provider:
            return False
        if self.model_re is not None and not self.model_re.match(call.model):
            return False
        if when.task is not None and when.task != call.task:
            return False
        if when.message_id is not None and when.message_id != call.message_id:
            return False
        return when.contains is None or when.contains in call.text or when.contains in call.raw

    def take(self) -> bool:
        """Count one match; whether the failure fires on it.

        Failures are spread evenly: at rate 0.5 calls 1, 3, 5... fail; at 1.0 all do.
        """
        self.matched += 1
        fail = self.rule.fail
        if fail is None:
            return False
        n = self.matched
        fires = math.ceil(n * fail.rate - 1e-9) > math.ceil((n - 1) * fail.rate - 1e-9)
        self.fired += fires
        return fires

    def describe(self, now: float) -> dict[str, Any]:
        data = self.rule.model_dump(mode="json", exclude_none=True)
        data["matched"] = self.matched
        data["fired"] = self.fired
        if self.expires_at is not None:
            data["expires_in_s"] = round(max(0.0, self.expires_at - now), 3)
        return data


class RuleBook:
    """Rules in order; the first live rule matching a call wins."""

    def __init__(self) -> None:
        self._rules: list[LiveRule] = []

    def add(self, rules: list[Rule], *, first: bool = False) -> None:
        now = time.monotonic()
        live = [LiveRule.of(rule, now) for rule in rules]
        self._rules = [*live, *self._rules] if first else [*self._rules, *live]

    def clear(self) -> None:
        self._rules = []

    def match(self, call: Call) -> tuple[LiveRule, bool] | None:
        """The first live matching rule and whether its failure fires, counted as a match."""
        if not self._rules:
            return None
        now = time.monotonic()
        if any(rule.expired(now) for rule in self._rules):
            self._rules = [rule for rule in self._rules if not rule.expired(now)]
        for rule in self._rules:
            if rule.matches(call):
                return rule, rule.take()
        return None

    def describe(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [rule.describe(now) for rule in self._rules if not rule.expired(now)]
