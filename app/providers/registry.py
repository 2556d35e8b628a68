"""One SDK client per provider and process, built lazily (after a worker forks)."""

from __future__ import annotations

import os

from app.config import Settings, get_settings
from app.errors import ConfigError
from app.providers.anthropic_adapter import AnthropicClient
from app.providers.base import ProviderClient
from app.providers.openai_adapter import OpenAIClient

_clients: dict[tuple[str, int], ProviderClient] = {}


def build_client(provider: str, settings: Settings) -> ProviderClient:
    """Raises: ConfigError when the provider's key is missing."""
    timeout_s = settings.keel_model_timeout_s
    if provider == "anthropic":
        if not settings.anthropic_api_key:
            raise ConfigError("ANTHROPIC_API_KEY: not set, but the policy's tiers use anthropic")
        return AnthropicClient(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            timeout_s=timeout_s,
        )
    if provider == "openai":
        if not settings.openai_api_key:
            raise ConfigError("OPENAI_API_KEY: not set, but the policy's tiers use openai")
        return OpenAIClient(
            api_key=settings.openai_api_key, base_url=settings.openai_base_url, timeout_s=timeout_s
        )
    raise ConfigError(f"KEEL_POLICY: unknown provider {provider!r}")


def get_client(provider: str) -> ProviderClient:
    key = (provider, os.getpid())
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = build_client(provider, get_settings())
    return client


def reset_clients() -> None:
    _clients.clear()
