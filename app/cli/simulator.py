"""`keel simulator`: the provider simulator of SPEC 7."""

from __future__ import annotations

from pathlib import Path

import typer

from app.console import console


def simulator(
    port: int = typer.Option(8900, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    scenario: Path | None = typer.Option(None, help="JSON or YAML file of rules.", exists=True),
    latency_ms: str = typer.Option("0", help="Latency per call: A or A:B milliseconds."),
) -> None:
    """Serve fake Anthropic and OpenAI APIs for tests and the demo."""
    from app.simulator import parse_latency, serve

    try:
        latency = parse_latency(latency_ms)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--latency-ms") from exc
    console.print(f"simulator on http://{host}:{port}  (anthropic: /anthropic, openai: /openai/v1)")
    serve(host=host, port=port, scenario=scenario, latency_ms=latency)
