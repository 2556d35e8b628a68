"""Fitting a local model on labeled history and choosing its threshold.

A stratified 20% of the examples is held out; the model is fitted on the rest, predicts
the held-out share, and the lowest confidence whose answers there reach the requested
precision becomes the threshold, measured on the very model that is saved. `refit`
trades that for more training data: it refits on every example and keeps the threshold
(a model fitted on more data is a little more confident, so precision at the same
threshold may come out a little lower; `keel eval` measures it).

Examples may carry a group (an utterance id shared by its translations, a
conversation): a group is never split between the fitted and the held-out side, nor
between the folds that calibrate the probabilities, or the threshold would be chosen
on near-copies of the training data.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from app.localtier.errors import TrainingDataError
from app.localtier.model import CALIBRATION_FOLDS, FORMAT_VERSION, LocalModel, build_pipeline
from app.localtier.threshold import choose_threshold

MIN_EXAMPLES_PER_LABEL = 5
DEFAULT_MIN_PRECISION = 0.97
CALIBRATION_SPLITS = 5  # one fold of five, 20%, is held out to choose the threshold


def usable_examples(
    texts: Sequence[str], labels: Sequence[str], groups: Sequence[str]
) -> tuple[list[int], dict[str, int]]:
    """Indexes of the examples whose label has enough (groups of) examples, and the
    labels left out with their counts.

    Raises:
        TrainingDataError: fewer than two labels remain.
    """
    if not len(texts) == len(labels) == len(groups):
        raise TrainingDataError("texts, labels and groups differ in length")
    members: dict[str, set[str]] = defaultdict(set)
    for label, group in zip(labels, groups, strict=True):
        members[label].add(group)
    skipped = {
        label: Counter(labels)[label]
        for label, seen in members.items()
        if len(seen) < MIN_EXAMPLES_PER_LABEL
    }
    kept = [i for i, label in enumerate(labels) if label not in skipped]
    if len({labels[i] for i in kept}) < 2:
        raise TrainingDataError(
            f"need at least two labels with {MIN_EXAMPLES_PER_LABEL} or more examples each"
        )
    return kept, skipped


def _split(labels: Sequence[str], groups: Sequence[str], *, folds: int, seed: int) -> Any:
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return splitter.split(list(range(len(labels))), list(labels), list(groups))


def _fit(texts: list[str], labels: list[str], groups: list[str] | None, seed: int) -> Any:
    cv: Any = CALIBRATION_FOLDS
    if groups is not None:
        cv = list(_split(labels, groups, folds=CALIBRATION_FOLDS, seed=seed))
    return build_pipeline(seed=seed, cv=cv).fit(texts, labels)


def train_model(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    groups: Sequence[str | None] | None = None,
    min_precision: float = DEFAULT_MIN_PRECISION,
    seed: int = 0,
    refit: bool = False,
) -> LocalModel:
    """Fit on 80%, choose the threshold on the held-out 20%, optionally refit on all.

    Raises:
        TrainingDataError: too few examples or labels, or a precision outside (0, 1].
    """
    import sklearn
    from sklearn.model_selection import train_test_split

    if not 0 < min_precision <= 1:
        raise TrainingDataError("min_precision must be in (0, 1]")
    grouped = groups is not None and any(g is not None for g in groups)
    keys = [
        str(g) if grouped and g is not None else f"#{i}"
        for i, g in enumerate(groups if groups is not None else [None] * len(texts))
    ]
    kept, skipped = usable_examples(texts, labels, keys)
    x = [texts[i] for i in kept]
    y = [labels[i] for i in kept]
    g = [keys[i] for i in kept]
    if grouped:
        fit_idx, cal_idx = next(_split(y, g, folds=CALIBRATION_SPLITS, seed=seed))
    else:
        fit_idx, cal_idx = train_test_split(
            list(range(len(x))), test_size=1 / CALIBRATION_SPLITS, random_state=seed, stratify=y
        )
    fit_groups = [g[i] for i in fit_idx] if grouped else None
    pipeline = _fit([x[i] for i in fit_idx], [y[i] for i in fit_idx], fit_groups, seed)
    held_out = LocalModel(pipeline, tuple(sorted(set(y))), None, min_precision)
    predictions = held_out.predict_many([x[i] for i in cal_idx])
    correct = [label == y[i] for (label, _), i in zip(predictions, cal_idx, strict=True)]
    choice = choose_threshold(
        [confidence for _, confidence in predictions], correct, min_precision=min_precision
    )
    if refit:
        pipeline = _fit(x, y, g if grouped else None, seed)
    return LocalModel(
        pipeline=pipeline,
        labels=tuple(str(c) for c in pipeline.classes_),
        threshold=choice.threshold,
        min_precision=min_precision,
        info={
            "format_version": FORMAT_VERSION,
            "sklearn_version": sklearn.__version__,
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "examples": len(x),
            "fitted_on": len(x) if refit else len(fit_idx),
            "grouped": grouped,
            "skipped_labels": skipped,
            "refit": refit,
            "calibration": {
                "examples": len(cal_idx),
                "accuracy": sum(correct) / len(correct),
                "answered": choice.answered,
                "coverage": choice.coverage,
                "precision": choice.precision,
            },
        },
    )
