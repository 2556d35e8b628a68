"""Scenario files (JSON or YAML rules) and the `--latency-ms` option, validated at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.errors import ConfigError
from app.simulator.rules import LatencyMs, parse_rules


class LatencyError(ConfigError, ValueError):
    """Raised when a `--latency-ms` value is not `A` or `A:B` milliseconds."""


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def load_scenario(path: str | Path) -> list[dict[str, Any]]:
    """The validated rules of a JSON or YAML scenario: a list, or `{"rules": [...]}`.

    Raises:
        ConfigError: the file is missing, unparsable, or holds an invalid rule.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"scenario {path}: cannot read ({exc.strerror})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        kind = "YAML" if path.suffix.lower() in (".yaml", ".yml") else "JSON"
        raise ConfigError(f"scenario {path}: not valid {kind}: {detail}") from None
    if data is None:
        return []
    if not isinstance(data, list | dict):
        raise ConfigError(f'scenario {path}: expected a list of rules or {{"rules": [...]}}')
    try:
        rules = parse_rules(data)
    except ValidationError as exc:
        raise ConfigError(f"scenario {path}: invalid rule at {_first_error(exc)}") from None
    return [rule.model_dump(mode="json", exclude_none=True) for rule in rules]


def parse_latency(value: str) -> LatencyMs:
    """`"A"` or `"A:B"` milliseconds as (A, B).

    Raises:
        LatencyError: (a ConfigError and a ValueError) not `A` or `A:B` with 0 <= A <= B.
    """
    low_text, _, high_text = value.strip().partition(":")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        raise LatencyError(f"latency {value!r}: expected A or A:B milliseconds") from None
    if not 0 <= low <= high:
        raise LatencyError(f"latency {value!r}: expected 0 <= A <= B")
    return low, high
