"""One SDK client per provider and process, built lazily (after a worker forks).

An adapter, and with it its SDK (anthropic: about 65 MiB and a second or more to
import; openai: about 40 MiB), is imported only when a client for that provider is first
built, or preloaded by a worker: web and beat never build one, so they load neither SDK.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterable

from app.config import Settings, get_settings
from app.errors import ConfigError
from app.providers.base import ProviderClient

ADAPTER_MODULES = {
    "anthropic": "app.providers.anthropic_adapter",
    "openai": "app.providers.openai_adapter",
}
_clients: dict[tuple[str, int], ProviderClient] = {}
_lock = threading.Lock()


def preload(providers: Iterable[str]) -> None:
    """Import the adapters (and SDKs) of `providers` without building a client. A worker
    does it before it starts its pool: prefork children then share the modules' pages, and
    a thread pool's first tasks do not all wait on the same import."""
    for provider in providers:
        if provider in ADAPTER_MODULES:
            importlib.import_module(ADAPTER_MODULES[provider])


def build_client(provider: str, settings: Settings) -> ProviderClient:
    """Raises: ConfigError when the provider's key is missing."""
    timeout_s = settings.keel_model_timeout_s
    if provider == "anthropic":
        if not settings.anthropic_api_key:
            raise ConfigError("ANTHROPIC_API_KEY: not set, but the policy's tiers use anthropic")
        from app.providers.anthropic_adapter import AnthropicClient

        return AnthropicClient(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            timeout_s=timeout_s,
        )
    if provider == "openai":
        if not settings.openai_api_key:
            raise ConfigError("OPENAI_API_KEY: not set, but the policy's tiers use openai")
        from app.providers.openai_adapter import OpenAIClient

        return OpenAIClient(
            api_key=settings.openai_api_key, base_url=settings.openai_base_url, timeout_s=timeout_s
        )
    raise ConfigError(f"KEEL_POLICY: unknown provider {provider!r}")


def get_client(provider: str) -> ProviderClient:
    """This process's client for `provider`, shared by its threads (the SDK clients and
    their connection pools are thread-safe); built once, under a lock."""
    key = (provider, os.getpid())
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = build_client(provider, get_settings())
    return client


def reset_clients() -> None:
    _clients.clear()
