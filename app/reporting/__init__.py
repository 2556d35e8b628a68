"""Figures over the audit record: counts by state, tier, intent, provider, language and
reason; cost against the all-flagship counterfactual and the savings; guardrail hits;
failovers; latency percentiles per model task and between steps; conversations (SPEC 11:
coalesced, superseded, opt-outs, handoffs, reply windows closed); conversions (SPEC 12)
by tier, intent, language and who answered, and the model cost per conversion.
`build_report` serves `keel report` and the demo's closing summary alike, as do the
renderings of one message's trace and of one conversation.
"""

from app.reporting.conversions import Conversions, Tally, converting_kinds
from app.reporting.report import Report, build_report, flagship_cost
from app.reporting.since import parse_since
from app.reporting.stats import percentile

__all__ = [
    "Conversions",
    "Report",
    "Tally",
    "build_report",
    "converting_kinds",
    "flagship_cost",
    "parse_since",
    "percentile",
]
