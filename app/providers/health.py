"""Breakers for the policy's models, and what happens when one changes state:
an audit event (no message id), a log line and a Sentry message."""

from __future__ import annotations

import logging

import sentry_sdk

from app.audit import record
from app.db import session_scope
from app.errors import ProviderConfigError
from app.policy import ModelRef, Policy
from app.providers.breaker import Breaker, Transition
from app.state import get_redis, keys

log = logging.getLogger("keel.providers")


def breaker_for(policy: Policy, ref: ModelRef) -> Breaker:
    return Breaker(client=get_redis(), keys=keys(), config=policy.breakers, model_key=ref.key)


def report_config_error(exc: ProviderConfigError) -> None:
    """Credentials, permissions or quota: fail over now, and tell a human."""
    log.error(
        "provider configuration error",
        extra={"provider": exc.provider, "model": exc.model, "status": exc.status},
    )
    sentry_sdk.capture_message(
        f"provider configuration error: {exc.provider} {exc.model} answered {exc.status}",
        level="error",
    )


def report_transition(transition: Transition | None) -> None:
    """Audit a breaker transition and tell Sentry; a no-op for None."""
    if transition is None:
        return
    detail = {
        "model": transition.model_key,
        "from": str(transition.from_state),
        "to": str(transition.to_state),
        "reason": transition.reason,
        "calls": transition.calls,
        "failures": transition.failures,
        "slow": transition.slow,
    }
    with session_scope() as session:
        record(session, message_id=None, action="breaker", actor="worker", detail=detail)
    log.warning("breaker %s -> %s", transition.model_key, transition.to_state, extra=detail)
    sentry_sdk.capture_message(
        f"breaker {transition.model_key} {transition.from_state} -> {transition.to_state}",
        level="warning" if transition.to_state == "open" else "info",
    )
