"""The example school's bundled local tier, measured on the demo inbox it never saw.

The model (`app/localtier/models/school.joblib`) was trained by `keel train` on the
school's labeled history (`app/localtier/data/school_history.jsonl`), which shares no
message with the demo inbox (`tests/localtier/test_school_history.py` checks it). This
script loads the shipped file the way Keel does (its SHA-256 sidecar checked first),
classifies every message of `app/demo/data/inbox.jsonl` and reports, at the threshold
stored in the model: coverage (the share answered locally) and precision (the share of
those answers that are right), overall, per language, per intent and per channel; the
calibration split's own figures; the precision-coverage curve; and how much the
threshold would move with another seed of the calibration split. Writes the section
"## The example school's local tier" of BENCHMARKS.md.

    .venv/bin/python bench/school_local_tier.py [--no-write] [--no-spread]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.evaluation import read_labeled  # noqa: E402
from app.guardrails.injection import screen  # noqa: E402
from app.localtier import LocalModel, choose_threshold, load_model, precision_coverage  # noqa: E402
from app.localtier.train import train_model  # noqa: E402
from bench.report import write_section  # noqa: E402

HEADING = "## The example school's local tier"
MODEL = ROOT / "app" / "localtier" / "models" / "school.joblib"
HISTORY = ROOT / "app" / "localtier" / "data" / "school_history.jsonl"
INBOX = ROOT / "app" / "demo" / "data" / "inbox.jsonl"
LANGUAGES = ("es", "pt", "en")
CURVE = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
TARGET = 0.97
SPREAD_SEEDS = (0, 1, 2, 3, 4)
# (seed, threshold, calibration figures, demo coverage, demo precision)
SpreadRow = tuple[int, float | None, dict[str, Any], float, float | None]


@dataclass(frozen=True)
class Row:
    """One demo message with its true label and the model's answer."""

    text: str
    label: str
    language: str
    channel: str
    injection: bool
    predicted: str
    confidence: float


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _rows(model: LocalModel) -> list[Row]:
    examples = read_labeled(INBOX)
    raw = [json.loads(line) for line in INBOX.read_text("utf-8").splitlines() if line.strip()]
    if len(raw) != len(examples):
        raise SystemExit(f"{INBOX.name}: {len(raw)} lines but {len(examples)} examples")
    predictions = model.predict_many([e.text for e in examples])
    return [
        Row(
            text=e.text,
            label=e.label,
            language=e.language or "?",
            channel=str(r.get("channel", "?")),
            injection=bool((r.get("metadata") or {}).get("injection")),
            predicted=p,
            confidence=c,
        )
        for e, r, (p, c) in zip(examples, raw, predictions, strict=True)
    ]


def _answered(rows: list[Row], threshold: float | None) -> list[Row]:
    return [r for r in rows if threshold is not None and r.confidence >= threshold]


def _figures(rows: list[Row], threshold: float | None) -> tuple[int, int, float, float | None]:
    """(messages, answered, coverage, precision) at `threshold`."""
    answered = _answered(rows, threshold)
    right = sum(r.predicted == r.label for r in answered)
    coverage = len(answered) / len(rows) if rows else 0.0
    return len(rows), len(answered), coverage, (right / len(answered) if answered else None)


def _breakdown(
    title: str,
    rows: list[Row],
    keys: list[str],
    key_of: Callable[[Row], str],
    threshold: float | None,
) -> list[str]:
    lines = [
        f"| {title} | messages | answered locally | coverage | precision |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in keys:
        part = [r for r in rows if key_of(r) == key]
        n, answered, coverage, precision = _figures(part, threshold)
        lines.append(f"| {key} | {n} | {answered} | {_pct(coverage)} | {_pct(precision)} |")
    n, answered, coverage, precision = _figures(rows, threshold)
    lines.append(
        f"| **all** | **{n}** | **{answered}** | **{_pct(coverage)}** | **{_pct(precision)}** |"
    )
    return lines


def _spread(seeds: tuple[int, ...]) -> list[SpreadRow]:
    """Retrain on the history with other calibration-split seeds: (seed, threshold,
    calibration figures, demo coverage, demo precision) per seed."""
    examples = read_labeled(HISTORY)
    out = []
    for seed in seeds:
        model = train_model(
            [e.text for e in examples],
            [e.label for e in examples],
            groups=[e.group for e in examples],
            min_precision=TARGET,
            seed=seed,
        )
        _, _, coverage, precision = _figures(_rows(model), model.threshold)
        out.append((seed, model.threshold, model.info["calibration"], coverage, precision))
    return out


def section(model: LocalModel, rows: list[Row], spread: list[SpreadRow], ms: float) -> list[str]:
    threshold = model.threshold
    cal = model.info["calibration"]
    n, answered, coverage, precision = _figures(rows, threshold)
    history = read_labeled(HISTORY)
    by_language = Counter(e.language for e in history)
    accuracy = sum(r.predicted == r.label for r in rows) / len(rows)
    lines = [
        "Measured by `bench/school_local_tier.py`. The bundled model "
        f"`app/localtier/models/school.joblib` ({MODEL.stat().st_size / 1e6:.1f} MB) was "
        f"trained by `keel train` on `app/localtier/data/school_history.jsonl`: "
        f"{len(history):,} messages written for the example school (es "
        f"{by_language['es']}, pt {by_language['pt']}, en {by_language['en']}; none copied "
        "or near-copied from the demo inbox or threads, which a test checks). It held out "
        f"{cal['examples']} of them, grouped by conversation, and chose the threshold "
        f"**{_pct(None) if threshold is None else f'{threshold:.3f}'}** for "
        f"{model.min_precision:.0%} precision there (calibration split: accuracy "
        f"{_pct(cal['accuracy'])}, coverage {_pct(cal['coverage'])}, precision "
        f"{_pct(cal['precision'])}).",
        "",
        f"**On the demo inbox ({n} messages, never trained on): {_pct(coverage)} answered "
        f"locally at {_pct(precision)} precision** with the stored threshold "
        f"({answered} messages that skip the fast tier's call; about {ms:.0f} ms of CPU "
        f"each). Accuracy over every message, answered or not: {_pct(accuracy)}.",
        "",
        *_breakdown("language", rows, list(LANGUAGES), lambda r: r.language, threshold),
        "",
        *_breakdown(
            "intent (true label)",
            rows,
            sorted({r.label for r in rows}),
            lambda r: r.label,
            threshold,
        ),
        "",
        *_breakdown(
            "channel",
            rows,
            sorted({r.channel for r in rows}),
            lambda r: r.channel,
            threshold,
        ),
        "",
    ]
    answered_rows = _answered(rows, threshold)
    intents = Counter(r.predicted for r in answered_rows)
    lines += [
        "Intents it answers (its own label, answered messages): "
        + ", ".join(f"`{k}` {v}" for k, v in intents.most_common())
        + ".",
        "",
    ]
    wrong = [r for r in answered_rows if r.predicted != r.label]
    if wrong:
        lines += ["Its wrong local answers on the demo inbox:", ""]
        lines += [
            f"- `{r.label}` answered as `{r.predicted}` ({r.confidence:.2f}): "
            f"{json.dumps(r.text[:90], ensure_ascii=False)}"
            for r in wrong
        ]
        lines.append("")
    injected = [r for r in rows if r.injection]
    injected_answered = _answered(injected, threshold)
    lines += [
        f"Of the {len(injected)} prompt-injection messages in the inbox, "
        f"{len(injected_answered)} {'was' if len(injected_answered) == 1 else 'were'} "
        "answered locally"
        + (
            " (" + ", ".join(f"as `{r.predicted}`" for r in injected_answered) + ")"
            if injected_answered
            else ""
        )
        + f". The injection screen, which runs before the classify step, flags "
        f"{sum(bool(screen(r.text)) for r in injected)} of the {len(injected)}, and the "
        'example policy (`on_injection = "escalate"`) escalates a flagged message before '
        "any classifier sees it.",
        "",
    ]
    confidences = [r.confidence for r in rows]
    correct = [r.predicted == r.label for r in rows]
    best = choose_threshold(confidences, correct, min_precision=TARGET)
    best_text = (
        f"{_pct(best.coverage)} (threshold {best.threshold:.3f})"
        if best.threshold is not None
        else "none"
    )
    lines += [
        f"Best coverage at >= {TARGET:.0%} precision had the threshold been picked on the "
        f"demo inbox itself (an upper bound, not a figure to quote): {best_text}.",
        "",
        "Precision-coverage curve on the demo inbox:",
        "",
        "| threshold | coverage | precision |",
        "|---:|---:|---:|",
        *(
            f"| {p.threshold:.2f} | {_pct(p.coverage)} | {_pct(p.precision)} |"
            for p in precision_coverage(confidences, correct, CURVE)
        ),
        "",
    ]
    if spread:
        lines += [
            "How much the threshold depends on which fifth of the history is held out: "
            "the same training with other seeds of the calibration split (seed 0, "
            "`keel train`'s default, is the shipped model).",
            "",
            "| seed | threshold | calibration: coverage / precision "
            "| demo inbox: coverage / precision |",
            "|---:|---:|---:|---:|",
        ]
        for seed, t, c, cov, prec in spread:
            t_text = "none" if t is None else f"{t:.3f}"
            lines.append(
                f"| {seed} | {t_text} | {_pct(c['coverage'])} / {_pct(c['precision'])} "
                f"| {_pct(cov)} / {_pct(prec)} |"
            )
        lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--no-spread", action="store_true", help="skip the seed retraining")
    args = parser.parse_args()
    model = load_model(MODEL)  # checks the .sha256 sidecar first, as Keel does
    rows = _rows(model)
    started = time.perf_counter()
    for row in rows[:100]:  # as the classify step asks: one message at a time
        model.predict(row.text)
    ms = (time.perf_counter() - started) * 1000 / min(len(rows), 100)
    spread = [] if args.no_spread else _spread(SPREAD_SEEDS)
    lines = section(model, rows, spread, ms)
    print("\n".join([HEADING, "", *lines]))
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", HEADING, lines)
        print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
