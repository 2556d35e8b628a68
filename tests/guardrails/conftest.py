"""Hypothesis without its per-example deadline: no timing thresholds in unit tests (the
2 shared cores make a 200 ms deadline flaky); the examples still run to completion."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("keel-guardrails", deadline=None)
settings.load_profile("keel-guardrails")
