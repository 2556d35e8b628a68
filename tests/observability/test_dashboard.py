"""The bundled Grafana dashboard queries only figures Keel's `/metrics` exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.observability.metrics import registry

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "keel-dashboard.json"
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
}


def exposed_names() -> set[str]:
    """Every sample name `/metrics` can carry, from the families it declares."""
    names: set[str] = set()
    for family in text_string_to_metric_families(generate_latest(registry()).decode()):
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def queried_names() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text("utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert exprs
    return {name for expr in exprs for name in re.findall(r"\bkeel_[a-z_]+\b", expr)}


def test_every_metric_the_dashboard_queries_is_exposed(keel_env: dict[str, str]) -> None:
    missing = queried_names() - exposed_names()
    assert not missing, sorted(missing)


def test_the_dashboard_covers_traffic_cost_failovers_parks_dead_letters_blocks_and_latency() -> (
    None
):
    queried = queried_names()
    for needed in (
        "keel_messages_total",
        "keel_model_cost_usd_total",
        "keel_model_cost_all_flagship_usd_total",
        "keel_failovers_total",
        "keel_parks_total",
        "keel_guardrail_verdicts_total",
        "keel_step_duration_seconds_bucket",
        "keel_queue_depth",
    ):
        assert needed in queried, needed
