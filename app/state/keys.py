"""Every Redis key name Keel uses, under the deployment's namespace."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import get_settings


@dataclass(frozen=True)
class Keys:
    namespace: str

    def _k(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    def queue(self, name: str) -> str:
        """A Celery queue (kombu prefixes it with the namespace too)."""
        return self._k(name)

    def breaker_state(self, model_key: str) -> str:
        return self._k("breaker", model_key, "state")

    def breaker_window(self, model_key: str, bucket: int) -> str:
        return self._k("breaker", model_key, "w", str(bucket))

    def breaker_hold(self, model_key: str) -> str:
        return self._k("breaker", model_key, "hold")

    def breaker_trial(self, model_key: str) -> str:
        return self._k("breaker", model_key, "trial")

    def breaker_pattern(self) -> str:
        return self._k("breaker", "*", "state")

    def queued_marker(self, message_id: str) -> str:
        return self._k("queued", message_id)

    def crashes(self, message_id: str, step: str) -> str:
        return self._k("crashes", message_id, step)

    def step_lease(self, message_id: str) -> str:
        """Held while a step of the message runs (renewed while it waits on a model)."""
        return self._k("running", message_id)

    def tier_up(self, tier: str) -> str:
        return self._k("tier_up", tier)

    def probe_lock(self, tier: str) -> str:
        return self._k("probe_lock", tier)

    def spend(self, day: str) -> str:
        """Micro-dollars spent on model calls on one UTC day."""
        return self._k("spend", day)


def keys() -> Keys:
    return Keys(get_settings().keel_namespace)
