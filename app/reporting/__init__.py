"""Figures over the audit record: counts by state, tier, intent, provider, language and
reason; cost against the all-standard and all-flagship counterfactuals, the savings by
source and each draft tier's block and escalation rates; guardrail hits;
failovers; latency percentiles per model task and between steps; conversations (SPEC 11:
coalesced, superseded, opt-outs, handoffs, reply windows closed); conversions (SPEC 12)
by tier, intent, language and who answered, and the model cost per conversion.
`build_report` serves `keel report` and the demo's closing summary alike, as do the
renderings of one message's trace and of one conversation.
"""

from app.reporting.conversions import Conversions, Tally, converting_kinds
from app.reporting.report import Report, build_report
from app.reporting.savings import Counterfactual, TierQuality, counterfactual
from app.reporting.since import parse_since
from app.reporting.stats import percentile

__all__ = [
    "Conversions",
    "Counterfactual",
    "Report",
    "Tally",
    "TierQuality",
    "build_report",
    "converting_kinds",
    "counterfactual",
    "parse_since",
    "percentile",
]
