"""Sentry for web, worker and beat: errors, traces from the API through every task, and
beat tasks as Crons check-ins. Off unless SENTRY_DSN is set.

Crons: beat checks each whole-minute entry in as it sends it (`in_progress`) and the
worker as it finishes (`ok`/`error`), with the entry's name as the monitor's slug. The
`keel-heartbeat` entry (every minute) is there for that alone, so a dead beat is a missed
check-in; the sub-minute entries are left out (Crons cannot schedule them).

Nothing personal leaves: `send_default_pii=False`, no request bodies, no stack-frame
locals, the AI integrations without prompts, and every event, transaction and
breadcrumb passes through `app.observability.scrub` first. The httpx integration is
off: it would record a breadcrumb and a span for every model call and webhook POST,
query string included (a webhook URL may carry a token), and send Sentry's trace
headers to the customer's webhook; model calls are audited and traced by the AI
integrations instead. Other HTTP breadcrumbs (the standard library's) keep their
URL without query, fragment or credentials. Database errors arrive without their
statement, parameters or Postgres `DETAIL:` lines (the engines also hide parameters).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

import sentry_sdk
from sentry_sdk.integrations import Integration
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.httpx import HttpxIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.redis import RedisIntegration
from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration

from app.config import get_settings
from app.observability.scrub import scrub_breadcrumb, scrub_event

COMPONENTS = ("web", "worker", "beat")
# Sentry Crons only knows whole-minute intervals; shorter beat entries are left out.
CRONS_MIN_INTERVAL_S = 60


def before_send(event: Any, hint: Any) -> Any:
    """Every error event and transaction, scrubbed before it leaves the process."""
    return scrub_event(event)


def before_breadcrumb(crumb: Any, hint: Any) -> Any:
    """Every breadcrumb (log lines, HTTP calls), scrubbed as it is recorded."""
    return scrub_breadcrumb(crumb)


def crons_excluded(beat_schedule: Mapping[str, Any]) -> list[str]:
    """Beat entries Sentry Crons cannot monitor (intervals shorter than, or not a whole
    number of, minutes), as anchored patterns for `exclude_beat_tasks`."""
    from celery.schedules import crontab, schedule

    excluded = []
    for name, entry in beat_schedule.items():
        every = entry.get("schedule")
        if isinstance(every, crontab):
            continue
        if isinstance(every, schedule):
            seconds = every.seconds
        elif isinstance(every, dt.timedelta):
            seconds = every.total_seconds()
        elif isinstance(every, int | float):
            seconds = float(every)
        else:
            continue
        if seconds % CRONS_MIN_INTERVAL_S:
            excluded.append(f"^{re.escape(name)}$")
    return excluded


def _integrations_of(component: str) -> list[Integration]:
    """What one process kind adds to the shared integrations, imported here so that each
    process loads only its own: the AI integrations (each imports its SDK) in the
    worker, FastAPI's in web."""
    if component == "worker":
        from sentry_sdk.integrations.anthropic import AnthropicIntegration
        from sentry_sdk.integrations.openai import OpenAIIntegration

        return [
            AnthropicIntegration(include_prompts=False),
            OpenAIIntegration(include_prompts=False),
        ]
    if component == "web":
        from sentry_sdk.integrations.fastapi import FastApiIntegration
        from sentry_sdk.integrations.starlette import StarletteIntegration

        return [StarletteIntegration(), FastApiIntegration()]
    return []


def init_sentry(component: str, *, beat_schedule: Mapping[str, Any] | None = None) -> bool:
    """Start Sentry for one process kind; returns whether it is on (SENTRY_DSN set).

    `beat_schedule` (beat only): entries Crons cannot monitor are left out up front,
    instead of Sentry warning about them at every tick.
    """
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}")
    settings = get_settings()
    if not settings.sentry_dsn:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
        disabled_integrations=[HttpxIntegration()],
        # Each process names its integrations: Sentry's auto-enabling would import every
        # installed library it can instrument (both provider SDKs, about 80 MiB, in web
        # and beat; FastAPI and Tornado in the worker).
        auto_enabling_integrations=False,
        integrations=[
            CeleryIntegration(
                monitor_beat_tasks=True,
                propagate_traces=True,
                exclude_beat_tasks=crons_excluded(beat_schedule or {}),
            ),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
            RedisIntegration(),
            SqlalchemyIntegration(),
            *_integrations_of(component),
        ],
    )
    sentry_sdk.get_global_scope().set_tag("component", component)
    return True


def current_trace_id() -> str | None:
    """The trace id Sentry propagates from here (the API request's, inside a task), or
    None when Sentry is off; audit rows and log lines can carry it to join the three."""
    if not sentry_sdk.get_client().is_active():
        return None
    traceparent = sentry_sdk.get_traceparent()
    return traceparent.split("-", 1)[0] if traceparent else None
