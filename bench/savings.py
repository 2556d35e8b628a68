"""What the seed-shaped policy costs against all-standard (the seed's "all-Sonnet") and
all-flagship: `keel demo` on the whole sample inbox and its conversation threads, with
no outage (failover to cheaper OpenAI models would flatter the figure), the simulator
counting tokens from the text and serving prompt caches by the providers' rules; then
`keel report`'s figures over the demo's database. Writes its section of BENCHMARKS.md.

    .venv/bin/python -m bench.savings [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from bench.report import write_section

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Cost against all-standard and all-flagship"


def run_demo() -> Path:
    """The demo's kept working folder (its SQLite database and logs)."""
    done = subprocess.run(
        [
            str(ROOT / ".venv/bin/keel"),
            "demo",
            "--outage-s",
            "0",
            "--all-down-s",
            "0",
            "--keep",
            "--timeout-s",
            "400",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    found = re.search(r"kept (\S+)", done.stdout)
    if not found:
        raise SystemExit(f"keel demo kept nothing:\n{done.stdout[-3000:]}")
    return Path(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    workdir = run_demo()
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'keel.db'}"
    os.environ["KEEL_POLICY"] = str(workdir / "policy.toml")
    from app.config import reset_settings
    from app.db import session_scope
    from app.policy import load_policy
    from app.reporting import build_report

    reset_settings()
    with session_scope() as session:
        r = build_report(session, policy=load_policy(workdir / "policy.toml"))
    std, top = r.counterfactuals["standard"], r.counterfactuals["flagship"]

    def usd(v: Decimal) -> str:
        return f"${v:.4f}"

    moved = std.by_source["escalated_before_draft"] + std.by_source["opt_out"]
    model_only = (std.savings_usd - moved) / std.cost_usd if std.cost_usd else Decimal(0)
    classified = r.classified_by
    local = classified.get("local", 0)
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.savings`: "
        f"`keel demo --outage-s 0 --all-down-s 0` ({r.messages} messages: the sample inbox "
        "and the conversation threads), the bundled policy as shipped (Haiku 4.5 classifies "
        "and drafts schedule and course questions, Sonnet 4.6 drafts the rest, Opus 4.6 the "
        "hard intents; the local tier on), the simulator counting tokens from the text "
        "(`app/simulator/tokens.py`) and serving prompt caches by the providers' rules. "
        "The counterfactual sends every message to one model for a classification and a "
        "draft, with no cache; calls Keel did not make are priced as an average call of "
        "their task that it did make (`app/reporting/savings.py`).",
        "",
        "| | all-standard (" + std.model + ") | all-flagship (" + top.model + ") |",
        "|---|---:|---:|",
        f"| had every message gone there | {usd(std.cost_usd)} | {usd(top.cost_usd)} |",
        f"| Keel spent | {usd(std.actual_usd)} | {usd(top.actual_usd)} |",
        f"| **saved** | **{usd(std.savings_usd)} ({std.savings_ratio or 0:.1%})** | "
        f"**{usd(top.savings_usd)} ({top.savings_ratio or 0:.1%})** |",
        *(
            f"| by {source.replace('_', ' ')} | {usd(std.by_source[source])} | "
            f"{usd(top.by_source[source])} |"
            for source in std.by_source
        ),
        "",
        f"Classifications: {local} by the local tier, "
        f"{sum(classified.values()) - local} by a model. Prompt cache: "
        f"{r.cache_read_tokens} tokens read, {r.cache_write_tokens} written, of "
        f"{r.input_tokens} input tokens (only Sonnet 4.6's drafts cache: the draft prompt's "
        "stable prefix is about 2,600 tokens, over Sonnet's 2,048 minimum and under the "
        "4,096 of Haiku 4.5 and Opus 4.6; classification prompts are far shorter).",
        "",
        "| draft tier | drafts | share | blocked | block rate | escalated after drafting |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {q.drafts} | {q.share:.1%} | {q.blocked} | "
            f"{(q.block_rate or 0):.1%} | {q.escalated}/{q.messages} |"
            for name, q in r.tiers.items()
        ),
        "",
        f"**Against all-standard Keel saves {std.savings_ratio or 0:.1%}** (the seed's "
        f"claim: about 70%). Of that, {usd(moved)} is messages a person answers instead "
        "(escalated before any draft) or that asked not to be answered (opt-outs): work "
        "moved, not only money saved. Without them the saving is "
        f"**{model_only:.1%}**. The simulator's replies are its short templates (20-40 "
        "words), shorter than a real model's, which understates output tokens on both "
        "sides; no guardrail blocks a simulator draft, so the block rates say nothing "
        "about real models.",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", HEADING, lines)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
