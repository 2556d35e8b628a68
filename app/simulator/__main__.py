"""`python -m app.simulator --port P [--scenario F] [--latency-ms A:B]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.errors import ConfigError
from app.simulator import load_scenario, parse_latency, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.simulator",
        description="Local fake of the Anthropic and OpenAI APIs for Keel.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--scenario", type=Path, default=None, help="JSON or YAML rules file")
    parser.add_argument("--latency-ms", default="0", help="A or A:B milliseconds per request")
    args = parser.parse_args(argv)
    try:
        latency = parse_latency(args.latency_ms)
        if args.scenario is not None:
            load_scenario(args.scenario)
        print(
            f"Keel simulator on http://{args.host}:{args.port} "
            f"(anthropic: /anthropic, openai: /openai/v1)",
            file=sys.stderr,
            flush=True,
        )
        serve(host=args.host, port=args.port, scenario=args.scenario, latency_ms=latency)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
