"""The policy file: what the business allows, parsed into typed, validated models.

Owns loading and validating the TOML policy (SPEC 8): tiers and their failover
chains with prices, routing rules, guardrail configuration (catalog, offers,
promises, links, send window, reply lengths) and retry settings.
"""

from app.policy.loader import BUNDLED_POLICY_PATH, get_policy, load_policy
from app.policy.models import (
    CatalogItem,
    Guardrails,
    ModelRef,
    Policy,
    Retries,
    Routing,
    SendWindow,
    TierName,
)

__all__ = [
    "BUNDLED_POLICY_PATH",
    "CatalogItem",
    "Guardrails",
    "ModelRef",
    "Policy",
    "Retries",
    "Routing",
    "SendWindow",
    "TierName",
    "get_policy",
    "load_policy",
]
