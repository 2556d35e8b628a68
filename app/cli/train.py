"""`keel train FILE --out PATH`: fit the local classifier tier on labeled history."""

from __future__ import annotations

from pathlib import Path

import typer

from app.console import console, err_console, print_json
from app.evaluation import DatasetError, read_label_map, read_labeled
from app.localtier import TrainingDataError, save_model


def train(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV (text,label[,language]) or JSON lines."
    ),
    out: Path = typer.Option(..., "--out", help="Where to write the model (and PATH.sha256)."),
    min_precision: float = typer.Option(
        0.97, "--min-precision", min=0.5, max=1.0, help="Precision the threshold must reach."
    ),
    label_map: Path | None = typer.Option(
        None, "--label-map", exists=True, dir_okay=False, help="JSON: dataset label -> intent."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the calibration split."),
    refit: bool = typer.Option(
        False, "--refit", help="Refit on every example after choosing the threshold."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Fit a multilingual classifier, pick its threshold on a held-out split, save it."""
    from app.localtier.train import train_model  # scikit-learn: only when training

    try:
        mapping = read_label_map(label_map) if label_map else None
        examples = read_labeled(file, label_map=mapping)
    except DatasetError as exc:
        err_console.print(f"keel train: {exc}")
        raise typer.Exit(2) from exc
    with err_console.status(f"training on {len(examples)} examples", spinner="dots"):
        try:
            model = train_model(
                [e.text for e in examples],
                [e.label for e in examples],
                groups=[e.group for e in examples],
                min_precision=min_precision,
                seed=seed,
                refit=refit,
            )
        except TrainingDataError as exc:
            err_console.print(f"keel train: {exc}")
            raise typer.Exit(1) from exc
        digest = save_model(model, out)
    summary = {
        "model": str(out),
        "sha256": digest,
        "labels": len(model.labels),
        "threshold": model.threshold,
        "min_precision": model.min_precision,
        **{k: v for k, v in model.info.items() if k in ("examples", "skipped_labels")},
        "calibration": model.info.get("calibration"),
    }
    if as_json:
        print_json(summary)
        return
    cal = model.info["calibration"]
    threshold = "none reached" if model.threshold is None else f"{model.threshold:.3f}"
    console.print(
        f"Trained on [bold]{summary['examples']}[/] examples, {len(model.labels)} labels -> "
        f"{out} (sha256 {digest[:12]}...)"
    )
    console.print(
        f"Calibration split ({cal['examples']} held out): accuracy {cal['accuracy']:.1%}; "
        f"threshold {threshold} answers {cal['coverage']:.1%} locally at precision "
        f"{(cal['precision'] or 0):.1%} (asked {min_precision:.1%})"
    )
    if model.info.get("skipped_labels"):
        console.print(
            f"[yellow]Labels with too few examples, left out:[/] {model.info['skipped_labels']}"
        )
    console.print(
        "Use it: set routing.local_model in the policy; `keel eval` measures it on held-out data."
    )
