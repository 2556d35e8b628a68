"""Observability: what operators see of Keel while it runs, without ever seeing a customer.

Owns Sentry (errors, traces from the API request through every Celery task, beat
tasks as Crons check-ins), OpenTelemetry trace export (one trace per message, its
model calls with the GenAI attributes: `tracing`), the JSON-lines log format, the
scrubbing that keeps message text, drafts and contact identifiers out of all three,
the Celery signal hooks that start them in the worker and beat, and the Prometheus
figures: counters updated where things happen (`counters`, fed by committed audit
events through `events`) and `/metrics` (`metrics`). The audit record itself lives in
`app.audit`.
"""

from app.observability.logging import JsonFormatter, setup_logging
from app.observability.sentry import current_trace_id, init_sentry

__all__ = ["JsonFormatter", "current_trace_id", "init_sentry", "setup_logging"]
