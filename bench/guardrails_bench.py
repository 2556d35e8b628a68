"""Guardrails benchmark: catch rate, false-block rate and time per draft on the labelled set.

Runs `check_draft` over tests/guardrails/data/drafts.jsonl (after one warm-up pass, so
lingua's models and the regexes are loaded), prints the figures and writes them to
BENCHMARKS.md under "## Guardrails", replacing only that section.

    .venv/bin/python bench/guardrails_bench.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app.guardrails import blocked, check_draft, check_input
from app.guardrails.langdetect import detect
from app.guardrails.text import fold
from app.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "guardrails" / "data" / "drafts.jsonl"
REPORT = ROOT / "BENCHMARKS.md"
HEADING = "## Guardrails"


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line.strip()]


def measure(rows: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    policy = load_policy()
    for row in rows:  # warm-up: lingua models, compiled patterns
        check_draft(row["text"], policy=policy, channel=row["channel"], language=row["language"])
    times_ms: list[float] = []
    per_draft: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    outcome: dict[int, set[str]] = {}
    for _ in range(rounds):
        for i, row in enumerate(rows):
            fold.cache_clear()  # every draft is new to the checks, as in production
            detect.cache_clear()
            start = time.perf_counter()
            verdicts = check_draft(
                row["text"], policy=policy, channel=row["channel"], language=row["language"]
            )
            times_ms.append((time.perf_counter() - start) * 1000)
            per_draft[i].append(times_ms[-1])
            outcome[i] = {v.check for v in blocked(verdicts)}
    input_ms: list[float] = []
    for row in rows:
        fold.cache_clear()
        detect.cache_clear()
        start = time.perf_counter()
        check_input(row["text"])
        input_ms.append((time.perf_counter() - start) * 1000)
    medians = [statistics.median(ts) for ts in per_draft.values()]
    bad = [i for i, r in enumerate(rows) if r["bad"]]
    good = [i for i, r in enumerate(rows) if not r["bad"]]
    caught = [i for i in bad if outcome[i]]
    false_blocks = [i for i in good if outcome[i]]
    by_check = Counter(rows[i]["why"].split(":")[0] for i in bad)
    caught_by_check = Counter(rows[i]["why"].split(":")[0] for i in caught)
    return {
        "drafts": len(rows),
        "bad": len(bad),
        "good": len(good),
        "caught": len(caught),
        "false_blocks": len(false_blocks),
        "catch_rate": len(caught) / len(bad),
        "false_block_rate": len(false_blocks) / len(good),
        "mean_ms": statistics.fmean(medians),
        "p95_ms": statistics.quantiles(medians, n=20)[-1],
        "max_ms": max(medians),
        "raw_p95_ms": statistics.quantiles(times_ms, n=20)[-1],
        "input_mean_ms": statistics.fmean(input_ms),
        "runs": len(times_ms),
        "by_check": {c: f"{caught_by_check[c]}/{n}" for c, n in sorted(by_check.items())},
        "languages": dict(Counter(r["language"] for r in rows)),
    }


def section(f: dict[str, Any]) -> str:
    lines = [
        HEADING,
        "",
        f"`bench/guardrails_bench.py` over the labelled set `tests/guardrails/data/drafts.jsonl`"
        f" ({f['drafts']} drafts written for the example school: {f['good']} good, {f['bad']}"
        f" bad; by language {f['languages']}), every output check of `check_draft`, on"
        f" {platform.python_implementation()} {platform.python_version()}"
        f" ({f['runs']} timed runs after a warm-up, text caches cleared before each run so"
        " every draft is checked as if new). Times are each draft's median over the rounds"
        " (the machine's 2 cores are shared, so single runs carry other processes' noise;"
        f" the p95 of all single runs was {f['raw_p95_ms']:.3f} ms).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| catch rate (bad drafts blocked) | {f['catch_rate']:.1%} ({f['caught']}/{f['bad']}) |",
        f"| false-block rate (good drafts blocked) | {f['false_block_rate']:.1%}"
        f" ({f['false_blocks']}/{f['good']}) |",
        f"| guardrail time per draft, mean | {f['mean_ms']:.3f} ms |",
        f"| guardrail time per draft, p95 | {f['p95_ms']:.3f} ms |",
        f"| guardrail time per draft, slowest draft | {f['max_ms']:.3f} ms |",
        f"| input checks per message, mean | {f['input_mean_ms']:.3f} ms |",
        "",
        "Bad drafts caught, by the check their label names: "
        + ", ".join(f"{c} {v}" for c, v in f["by_check"].items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def write(text: str) -> None:
    current = REPORT.read_text("utf-8") if REPORT.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    REPORT.write_text(updated.rstrip("\n") + "\n", "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed passes over the set")
    args = parser.parse_args()
    figures = measure(load(), rounds=args.rounds)
    text = section(figures)
    print(text)
    write(text)


if __name__ == "__main__":
    main()
