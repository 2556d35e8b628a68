"""`keel demo`: the main job on embedded defaults (SPEC 10)."""

from __future__ import annotations

import typer


def demo(
    messages: int = typer.Option(0, help="Feed only the first N inbox messages (0: all)."),
    outage_s: float = typer.Option(8.0, help="How long the primary provider is down mid-run."),
    all_down_s: float = typer.Option(
        5.0, help="Later, how long every provider is down (messages park, then drain)."
    ),
    timeout_s: float = typer.Option(150.0, help="Give up waiting after this long."),
    latency_ms: str = typer.Option("20:120", help="Simulated provider latency, A or A:B ms."),
    keep: bool = typer.Option(False, help="Keep the demo's database and logs."),
    send_window: bool = typer.Option(
        False,
        help="Hold replies for the contacts' real send window (at night most wait for beat).",
    ),
) -> None:
    """Start Redis (if needed), SQLite, the simulator, a worker, beat, the API and a webhook
    receiver; feed the sample inbox; take the primary provider down mid-run; print a summary."""
    from app.demo.run import DemoOptions, run_demo

    ok = run_demo(
        DemoOptions(
            limit=messages or None,
            outage_s=outage_s,
            all_down_s=all_down_s,
            timeout_s=timeout_s,
            latency_ms=latency_ms,
            keep=keep,
            send_window=send_window,
        )
    )
    if not ok:
        raise typer.Exit(1)
