"""Model providers: one adapter per provider on its official SDK, and the tier chain.

Owns talking to Anthropic and OpenAI (base URLs from the environment, the SDKs'
own retries off, explicit timeouts, Keel's task headers), translating their
exceptions into Keel's error tree in one table each, measuring token usage and
cost from every real response, and walking a tier's failover chain.
"""

from app.providers.base import Attempt, Completion, ProviderClient
from app.providers.chain import TierCallFailed, TierResult, call_tier
from app.providers.registry import get_client, reset_clients

__all__ = [
    "Attempt",
    "Completion",
    "ProviderClient",
    "TierCallFailed",
    "TierResult",
    "call_tier",
    "get_client",
    "reset_clients",
]
