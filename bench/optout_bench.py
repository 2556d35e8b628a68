"""Opt-out detector benchmark: precision, recall and time per message on the labelled set.

Runs `detect_opt_out` over app/conversations/data/optout_labeled.jsonl, prints the figures
overall and per language with every miss and false opt-out, and writes them to
BENCHMARKS.md under "## Opt-out detector", between the markers `<!-- optout:start -->`
and `<!-- optout:end -->`, replacing only that block (or adding the section at the end).

    .venv/bin/python bench/optout_bench.py [--rounds 20] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import app.conversations
from app.conversations import detect_opt_out

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(app.conversations.__file__).parent / "data" / "optout_labeled.jsonl"
REPORT = ROOT / "BENCHMARKS.md"
HEADING = "## Opt-out detector"
START = "<!-- optout:start -->"
END = "<!-- optout:end -->"
LANGUAGES = ("es", "pt", "en")


@dataclass(frozen=True)
class Figures:
    """Confusion counts over some rows of the labelled set."""

    messages: int
    opt_outs: int
    detected: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.opt_outs if self.opt_outs else 1.0

    @property
    def false_positives(self) -> int:
        return self.detected - self.true_positives


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line.strip()]


def figures(rows: list[dict[str, Any]], fired: list[bool]) -> Figures:
    return Figures(
        messages=len(rows),
        opt_outs=sum(r["opt_out"] for r in rows),
        detected=sum(fired),
        true_positives=sum(f and r["opt_out"] for r, f in zip(rows, fired, strict=True)),
    )


def time_per_message_us(rows: list[dict[str, Any]], rounds: int) -> float:
    """Median over the rounds of the mean time to classify one message, in microseconds."""
    means: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for row in rows:
            detect_opt_out(row["text"])
        means.append((time.perf_counter() - start) / len(rows) * 1e6)
    return statistics.median(means)


def section(rows: list[dict[str, Any]], fired: list[bool], per_message_us: float) -> str:
    overall = figures(rows, fired)
    lines = [
        f"`bench/optout_bench.py` over the labelled set"
        f" `app/conversations/data/optout_labeled.jsonl` ({overall.messages} customer messages"
        f" written as the example school's customers write on WhatsApp and email:"
        f" {overall.opt_outs} ask to stop receiving messages, the rest are near misses and"
        " ordinary messages that use STOP, BAJA, SAIR, PARAR, CANCELAR, darme de baja..."
        " in other senses), `detect_opt_out` on"
        f" {platform.python_implementation()} {platform.python_version()}. The set was"
        " written alongside the rules, so these figures are an upper bound for messages"
        " nobody has seen.",
        "",
        "| language | messages | opt-outs | caught | false opt-outs | precision | recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for language in LANGUAGES:
        picked = [i for i, r in enumerate(rows) if r["language"] == language]
        f = figures([rows[i] for i in picked], [fired[i] for i in picked])
        lines.append(row_line(language, f))
    lines.append(row_line("**all**", overall))
    missed = [r for r, f in zip(rows, fired, strict=True) if r["opt_out"] and not f]
    false = [r for r, f in zip(rows, fired, strict=True) if f and not r["opt_out"]]
    lines += [
        "",
        f"Time per message: {per_message_us:.1f} µs (mean over the set, median of the rounds;"
        " the machine's cores are shared, so runs vary by a third or more).",
        "",
        "Opt-outs missed: "
        + ("; ".join(f"`{r['text']}` ({r['language']})" for r in missed) or "none")
        + ".",
        "",
        "False opt-outs: "
        + ("; ".join(f"`{r['text']}` ({r['language']})" for r in false) or "none")
        + ".",
    ]
    return "\n".join(lines)


def row_line(label: str, f: Figures) -> str:
    return (
        f"| {label} | {f.messages} | {f.opt_outs} | {f.true_positives} | {f.false_positives}"
        f" | {f.precision:.1%} | {f.recall:.1%} |"
    )


def write(body: str) -> None:
    """Replace the block between the markers, or add the section at the end of the file."""
    current = REPORT.read_text("utf-8") if REPORT.exists() else "# Benchmarks\n"
    block = f"{START}\n{body}\n{END}"
    start, end = current.find(START), current.find(END)
    if start >= 0 and end > start:
        updated = current[:start] + block + current[end + len(END) :]
    else:
        updated = current.rstrip("\n") + f"\n\n{HEADING}\n\n{block}\n"
    REPORT.write_text(updated, "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed passes over the set")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows = load()
    fired = [detect_opt_out(r["text"]) is not None for r in rows]
    body = section(rows, fired, time_per_message_us(rows, args.rounds))
    print(f"{HEADING}\n\n{body}")
    if not args.no_write:
        write(body)


if __name__ == "__main__":
    main()
