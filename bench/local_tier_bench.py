"""Benchmark of the local classifier tier on real labeled data; writes BENCHMARKS.md.

Banking77 (English, 77 intents): a seeded, stratified 80% of its train split trains,
the other 20% evaluates. MASSIVE (en-US, es-ES, pt-PT, 60 intents): one multilingual
model trains on the `train` partition of all three locales and is evaluated per locale
on the `dev` partition; MASSIVE's partitions are split by utterance id, so no
translation of an evaluated sentence is ever trained on. The held-out test splits of
both sets are never read.

For each set: accuracy, the precision-coverage curve (coverage = share of messages
answered locally at or above a threshold; precision among those), what the threshold
chosen by `keel train` on its own calibration split does on the evaluation rows, and
the best coverage reachable at 97% precision on them.

    .venv/bin/python bench/local_tier_bench.py [--data ../shared/data] [--no-write]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.localtier import LocalModel, choose_threshold, precision_coverage, save_model  # noqa: E402
from app.localtier.train import train_model  # noqa: E402

SEED = 0
TARGET = 0.97
CURVE = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
HEADING = "## Local classifier tier"
LOCALES = ("en-US", "es-ES", "pt-PT")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _split_stratified(rows: list[dict[str, str]], share: float) -> tuple[list, list]:
    by_label: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_label[row["category"]].append(row)
    rng = random.Random(SEED)
    train, held = [], []
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        cut = round(len(group) * share)
        train += group[:cut]
        held += group[cut:]
    return train, held


def _fit(
    texts: list[str], labels: list[str], groups: list[str] | None = None
) -> tuple[LocalModel, dict[str, float]]:
    started = time.perf_counter()
    model = train_model(texts, labels, groups=groups, min_precision=TARGET, seed=SEED)
    train_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        save_model(model, path)
        size = path.stat().st_size
    return model, {"train_s": train_s, "size_mb": size / 1e6}


def _score(model: LocalModel, texts: list[str], labels: list[str]) -> dict[str, object]:
    predictions = model.predict_many(texts)
    started = time.perf_counter()
    for text in texts[:200]:  # as the classify step asks: one message at a time
        model.predict(text)
    per_message_ms = (time.perf_counter() - started) * 1000 / min(len(texts), 200)
    confidences = [c for _, c in predictions]
    correct = [p == y for (p, _), y in zip(predictions, labels, strict=True)]
    stored = (
        precision_coverage(confidences, correct, [model.threshold])[0]
        if model.threshold is not None
        else None
    )
    return {
        "n": len(texts),
        "accuracy": sum(correct) / len(correct),
        "curve": precision_coverage(confidences, correct, CURVE),
        "stored": stored,
        "best": choose_threshold(confidences, correct, min_precision=TARGET),
        "ms": per_message_ms,
    }


def banking77(data: Path) -> dict[str, object]:
    rows = _read(data / "banking77" / "train.csv")
    train, held = _split_stratified(rows, 0.8)
    model, fit = _fit([r["text"] for r in train], [r["category"] for r in train])
    result = _score(model, [r["text"] for r in held], [r["category"] for r in held])
    return {"model": model, "fit": fit, "train_n": len(train), "eval": {"en": result}}


def massive(data: Path) -> dict[str, object]:
    rows = [r for loc in LOCALES for r in _read(data / "massive" / f"{loc}.trainval.csv")]
    train = [r for r in rows if r["partition"] == "train"]
    held = [r for r in rows if r["partition"] == "dev"]
    train_ids, held_ids = {r["id"] for r in train}, {r["id"] for r in held}
    assert not train_ids & held_ids, "MASSIVE partitions share ids"
    model, fit = _fit(
        [r["utt"] for r in train], [r["intent"] for r in train], [r["id"] for r in train]
    )
    results = {}
    for loc in LOCALES:
        part = [r for r in held if r["locale"] == loc]
        results[loc] = _score(model, [r["utt"] for r in part], [r["intent"] for r in part])
    return {"model": model, "fit": fit, "train_n": len(train), "eval": results}


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.1%}"  # type: ignore[arg-type]


def _skipped(model: LocalModel) -> str:
    skipped = model.info.get("skipped_labels") or {}
    if not skipped:
        return ""
    names = ", ".join(f"`{k}` ({v} rows)" for k, v in sorted(skipped.items()))
    return f" Left out for having fewer than 5 examples (ids): {names}."


def render(name: str, how: str, bench: dict) -> list[str]:
    model: LocalModel = bench["model"]
    cal = model.info["calibration"]
    threshold = "none" if model.threshold is None else f"{model.threshold:.3f}"
    lines = [
        f"### {name}",
        "",
        how,
        "",
        f"`keel train` on {bench['train_n']:,} rows, {len(model.labels)} labels: fitted on "
        f"{model.info['fitted_on']:,}, the other {cal['examples']:,} held out to choose the "
        f"threshold, **{threshold}** (there: coverage {_pct(cal['coverage'])}, precision "
        f"{_pct(cal['precision'])}). {bench['fit']['train_s']:.0f} s to train; model file "
        f"{bench['fit']['size_mb']:.1f} MB.{_skipped(model)}",
        "",
        "| eval set | rows | accuracy | at the stored threshold: coverage / precision "
        "| best coverage at >= 97% precision, threshold picked on these rows (a bound) "
        "| ms per message, one at a time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, r in bench["eval"].items():
        stored = r["stored"]
        at_stored = f"{_pct(stored.coverage)} / {_pct(stored.precision)}" if stored else "n/a"
        best = r["best"]
        best_text = (
            f"{_pct(best.coverage)} ({best.threshold:.3f})" if best.threshold is not None else "0%"
        )
        lines.append(
            f"| {key} | {r['n']:,} | {_pct(r['accuracy'])} | {at_stored} | {best_text} "
            f"| {r['ms']:.2f} |"
        )
    lines += ["", "Precision-coverage curve (coverage / precision at each threshold):", ""]
    keys = list(bench["eval"])
    lines.append("| threshold | " + " | ".join(keys) + " |")
    lines.append("|---:|" + "---:|" * len(keys))
    for i, t in enumerate(CURVE):
        cells = []
        for key in keys:
            point = bench["eval"][key]["curve"][i]
            cells.append(f"{_pct(point.coverage)} / {_pct(point.precision)}")
        lines.append(f"| {t:.2f} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def section(bank: dict, mas: dict, elapsed_s: float) -> str:
    lines = [
        HEADING,
        "",
        "Tier 0 (`keel train`, `routing.local_model`): character n-grams (char_wb 2-5, "
        "accents folded) and word 1-2-grams, TF-IDF, a linear SVM with sigmoid calibration "
        "(scikit-learn). It answers a message itself when its calibrated confidence reaches "
        "the threshold `keel train` chose for 97% precision on a 20% calibration split it "
        "held out (split by group where examples have one); everything else goes to the "
        "fast tier. Measured by "
        "`bench/local_tier_bench.py` on rows never trained on (the data sets' test "
        f"splits are not used); the whole run took {elapsed_s:.0f} s on 2 shared cores.",
        "",
    ]
    headline = bank["eval"]["en"]["stored"]
    if headline is not None:
        lines += [
            f"**Banking77: {_pct(headline.coverage)} of held-out messages answered locally at "
            f"{_pct(headline.precision)} precision** with the threshold `keel train` stored "
            f"(aim: at least 50% at 97% or better); they cost nothing and take about "
            f"{bank['eval']['en']['ms']:.2g} ms of CPU each (on shared, busy cores) instead of "
            "a model call.",
            "",
        ]
    lines += render(
        "Banking77 (English, 77 intents)",
        "Train: a seeded, stratified 80% of `train.csv`; evaluate: the other 20%.",
        bank,
    )
    lines += render(
        "MASSIVE (en-US, es-ES, pt-PT, 60 intents)",
        "One multilingual model trained on the `train` partition of all three locales; "
        "evaluated per locale on the `dev` partition (MASSIVE splits by utterance id, so no "
        "translation of an evaluated sentence was trained on). `keel train` keeps each id "
        "on one side of its calibration split too (`id` is read as the group).",
        mas,
    )
    return "\n".join(lines).rstrip() + "\n"


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of BENCHMARKS.md (or add it), leaving the rest."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        updated = current.rstrip() + "\n\n" + text
    path.write_text(updated.rstrip() + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    started = time.perf_counter()
    bank = banking77(args.data)
    mas = massive(args.data)
    text = section(bank, mas, time.perf_counter() - started)
    print(text)
    if not args.no_write:
        write_section(args.out, text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
