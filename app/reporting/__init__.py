"""Figures over the audit record: counts by state, tier, intent and reason; cost against
the all-flagship counterfactual; guardrail blocks; failovers; latency percentiles."""

from app.reporting.summary import Summary, summarize

__all__ = ["Summary", "summarize"]
