"""Reads a policy file from disk and turns any problem into one clear line."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from app.config import get_settings
from app.errors import ConfigError
from app.policy.models import Policy

BUNDLED_POLICY_PATH = Path(__file__).with_name("example_policy.toml")


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse and validate policy TOML.

    Raises:
        ConfigError: the text is not TOML or breaks the policy's rules.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"KEEL_POLICY: {source} is not valid TOML: {exc}") from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"KEEL_POLICY: {source}: {where}: {first['msg']}") from exc


@lru_cache(maxsize=8)
def load_policy(path: Path | str | None = None) -> Policy:
    """Load the policy at `path`, or the bundled example when None.

    Raises:
        ConfigError: the file is missing, unreadable or invalid.
    """
    resolved = Path(path) if path else BUNDLED_POLICY_PATH
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"KEEL_POLICY: cannot read {resolved}: {exc.strerror}") from exc
    return parse_policy(text, source=str(resolved))


def get_policy() -> Policy:
    """The policy named by `KEEL_POLICY` (the bundled example when unset), parsed once.

    Raises:
        ConfigError: the file is missing, unreadable or invalid.
    """
    return load_policy(get_settings().keel_policy)
