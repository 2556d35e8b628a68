"""Figures over the audit record: counts by state, tier, intent, provider, language and
reason; cost against the all-flagship counterfactual and the savings; guardrail hits;
failovers; latency percentiles per model task and between steps. `build_report` serves
`keel report`, `summarize` the demo's closing summary.
"""

from app.reporting.report import Report, build_report, flagship_cost
from app.reporting.since import parse_since
from app.reporting.stats import percentile
from app.reporting.summary import Summary, summarize

__all__ = [
    "Report",
    "Summary",
    "build_report",
    "flagship_cost",
    "parse_since",
    "percentile",
    "summarize",
]
