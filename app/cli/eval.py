"""`keel eval FILE`: classification accuracy on a labeled set; a gate with --min-accuracy."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.console import console, err_console, print_json
from app.evaluation import (
    DatasetError,
    EvalReport,
    evaluate,
    read_label_map,
    read_labeled,
    sample,
    score,
)
from app.policy import get_policy


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _print(report: EvalReport, *, min_accuracy: float | None) -> None:
    o = report.overall
    console.print(f"Accuracy: [bold]{_pct(o.accuracy)}[/] ({o.correct}/{o.examples})")
    groups = Table(title="By language and tier", title_justify="left")
    for header in ("group", "examples", "accuracy"):
        groups.add_column(header, justify="left" if header == "group" else "right")
    for prefix, scores in (("language", report.by_language), ("tier", report.by_tier)):
        for key, s in scores.items():
            groups.add_row(f"{prefix}={key}", str(s.examples), _pct(s.accuracy))
    console.print(groups)
    labels = Table(title="By label (recall, precision)", title_justify="left")
    for header in ("label", "support", "recall", "precision"):
        labels.add_column(header, justify="left" if header == "label" else "right")
    for label, ls in sorted(report.by_label.items(), key=lambda kv: (kv[1].recall or 0, kv[0])):
        labels.add_row(label, str(ls.support), _pct(ls.recall), _pct(ls.precision))
    console.print(labels)
    confusions = Table(title="Top confusions", title_justify="left")
    for header in ("label", "predicted", "count"):
        confusions.add_column(header, justify="right" if header == "count" else "left")
    for label, predicted, count in report.confusions:
        confusions.add_row(label, predicted, str(count))
    console.print(confusions)
    if report.unknown_labels:
        console.print(
            f"[yellow]{len(report.unknown_labels)} labels are not policy intents[/] "
            f"(map them with --label-map): {', '.join(report.unknown_labels[:10])}"
        )
    if report.errors:
        console.print(f"Classify failures: {report.errors}")
    console.print(
        f"Cost: ${report.cost_usd:.6f}   latency p50 {_ms(report.latency_p50_ms)}, "
        f"p95 {_ms(report.latency_p95_ms)}"
    )
    if min_accuracy is not None:
        verdict = "[green]pass[/]" if (o.accuracy or 0) >= min_accuracy else "[red]FAIL[/]"
        console.print(f"Gate: accuracy {_pct(o.accuracy)} against {min_accuracy:.1%}: {verdict}")


def eval_(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV (text,label[,language]) or JSON lines."
    ),
    min_accuracy: float | None = typer.Option(
        None, "--min-accuracy", min=0.0, max=1.0, help="Exit 1 below this accuracy (0..1)."
    ),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=64, help="Calls at once."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Evaluate a seeded sample of N examples."
    ),
    label_map: Path | None = typer.Option(
        None, "--label-map", exists=True, dir_okay=False, help="JSON: dataset label -> intent."
    ),
    local: bool = typer.Option(
        True, "--local/--no-local", help="Try the policy's local model first, as production."
    ),
    local_model: Path | None = typer.Option(
        None,
        "--local-model",
        exists=True,
        dir_okay=False,
        help="Evaluate with this model file as the local tier instead of the policy's.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run the real classify path over a labeled set: accuracy per language and label."""
    policy = get_policy()
    if local_model is not None:
        routing = policy.routing.model_copy(update={"local_model": str(local_model)})
        policy = policy.model_copy(update={"routing": routing})
    try:
        mapping = read_label_map(label_map) if label_map else None
        examples = sample(read_labeled(file, label_map=mapping), limit)
    except DatasetError as exc:
        err_console.print(f"keel eval: {exc}")
        raise typer.Exit(2) from exc
    columns = (
        TextColumn("classifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True, disable=as_json) as progress:
        bar = progress.add_task("classifying", total=len(examples))
        predictions = evaluate(
            examples,
            policy=policy,
            concurrency=concurrency,
            use_local=local,
            on_done=lambda _: progress.advance(bar),
        )
    report = score(predictions, intents=policy.routing.intents)
    if as_json:
        print_json({**report.as_dict(), "min_accuracy": min_accuracy})
    else:
        _print(report, min_accuracy=min_accuracy)
    if min_accuracy is not None and (report.overall.accuracy or 0) < min_accuracy:
        raise typer.Exit(1)
