"""A worker made ready in its main process, before it takes a task: the database pool
sized to its thread count, and the heavy parts its steps use loaded once (the provider
SDKs the policy's tiers name, lingua's detector, the local tier's model if one is
configured).

Web and beat never call this, so they load none of them. In a worker, a thread pool's
first tasks do not all wait on the same imports, and a prefork pool's children share
the pages instead of loading a copy each. No client or connection is made here: those
are made per process, after a fork.
"""

from __future__ import annotations

import logging

from app.db import fit_pool
from app.guardrails.langdetect import detector
from app.localtier import ModelFileError, cached_model
from app.policy import get_policy
from app.providers.registry import preload

log = logging.getLogger("keel.worker")


def prepare_worker(*, threads: int) -> None:
    """Size the pool for `threads` tasks at once and load what the steps will use."""
    fit_pool(threads)
    policy = get_policy()
    preload(policy.providers())
    detector()
    if policy.routing.local_model:
        try:
            cached_model(
                policy.routing.local_model, pinned_sha256=policy.routing.local_model_sha256
            )
        except ModelFileError as exc:
            # The classify step falls back to the LLM tier and alerts (localtier.gate).
            log.warning("local model not loaded at start", extra={"error": str(exc)})
