"""Keel's Prometheus counters and histograms, updated where things happen.

Each process counts in its own memory, or, with `PROMETHEUS_MULTIPROC_DIR` set (prefork
workers, several web processes), in files under that directory that any process on the
machine serving `/metrics` sums (prometheus_client's multiprocess mode). A scrape reads
these and a few known Redis keys; it never queries the database, so it costs the same
with ten audit rows as with a million. Labels are bounded sets (steps, tiers, models of
the policy, reason codes, check names), never ids or text.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "keel_messages",
    "Messages that reached a state (received, sent, escalated, parked, dead_lettered, ...),"
    " by reason where the state has one.",
    ["state", "reason"],
)
MODEL_CALLS = Counter(
    "keel_model_calls",
    "Model call attempts by tier, provider, model and status (ok or the failure).",
    ["tier", "provider", "model", "status"],
)
MODEL_TOKENS = Counter(
    "keel_model_tokens",
    "Tokens of model calls by tier, provider, model and direction (input, output).",
    ["tier", "provider", "model", "direction"],
)
MODEL_COST = Counter(
    "keel_model_cost_usd",
    "Model spend in USD by tier, provider and model.",
    ["tier", "provider", "model"],
)
MODEL_COST_ALL_FLAGSHIP = Counter(
    "keel_model_cost_all_flagship_usd",
    "What the same tokens would have cost at the flagship tier's first model.",
    ["task"],
)
MODEL_CALL_SECONDS = Histogram(
    "keel_model_call_duration_seconds",
    "Model call latency by provider and model.",
    ["provider", "model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0),
)
GUARDRAIL_VERDICTS = Counter(
    "keel_guardrail_verdicts",
    "Guardrail verdicts by check and verdict (pass, block, delay).",
    ["check", "verdict"],
)
FAILOVERS = Counter(
    "keel_failovers",
    "A failed or skipped model handing the call to the next one, by tier and reason.",
    ["tier", "reason"],
)
REDRAFTS = Counter("keel_redrafts", "Blocked drafts sent back a tier up.", ["from_tier", "to_tier"])
PARKS = Counter("keel_parks", "Messages parked through an outage, by tier.", ["tier"])
DRAINS = Counter("keel_drains", "Parked messages released after a probe answered.", ["tier"])
BREAKER_TRANSITIONS = Counter(
    "keel_breaker_transitions",
    "Circuit breaker transitions by model and new state.",
    ["model", "to"],
)
OUTCOMES = Counter("keel_outcomes", "Outcomes recorded against replies, by kind.", ["kind"])
STEP_SECONDS = Histogram(
    "keel_step_duration_seconds",
    "Time one pipeline step took in a worker, by step and outcome.",
    ["step", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
TRACE_SPANS_DROPPED = Counter(
    "keel_trace_spans_dropped",
    "Spans not exported: the queue was full (queue_full), an export failed or timed out"
    " (export_failed), or the collector was still down after one (collector_down).",
    ["reason"],
)
