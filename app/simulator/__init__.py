"""The provider simulator: a local fake of the Anthropic Messages and OpenAI Chat
Completions APIs that the real SDKs talk to unchanged. It owns the wire formats, the
default deterministic answers (classification JSON and catalog-priced reply drafts, both
read in the light of a conversation's earlier turns), the scenario rules that inject
failures (error statuses, timeouts, malformed or wrong-shape bodies, connection resets),
provider outages, call statistics, and the ways to run it (`serve`,
`python -m app.simulator` and `app.simulator.testing.running_simulator`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.simulator.rules import LatencyMs, parse_rules
from app.simulator.scenario import load_scenario, parse_latency
from app.simulator.server import Simulator

__all__ = ["create_app", "load_scenario", "parse_latency", "serve"]


def create_app(
    *, rules: list[dict[str, Any]] | None = None, latency_ms: LatencyMs = (0, 0)
) -> Simulator:
    """A fresh simulator ASGI app with these rules (first match wins) and global latency.

    Raises:
        pydantic.ValidationError: a rule is malformed.
    """
    return Simulator(rules=parse_rules(rules or []), latency_ms=latency_ms)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8900,
    scenario: Path | None = None,
    latency_ms: LatencyMs = (0, 0),
) -> None:
    """Run the simulator with uvicorn until interrupted.

    Raises:
        ConfigError: the scenario file is invalid.
    """
    from app.simulator.runner import make_server

    rules = load_scenario(scenario) if scenario is not None else None
    app = create_app(rules=rules, latency_ms=latency_ms)
    make_server(app, host=host, port=port).run()
