"""Evaluation: how well the configured classify path does on labeled history.

Owns reading labeled sets (CSV or JSON lines, plain or API-shaped, with an optional
map from a dataset's labels to the policy's intents), running the real classify path
over them with bounded concurrency (the local tier first when configured, then the
policy's classify tier through the configured providers), and scoring the answers:
accuracy overall, per language, per label and per tier, the top confusions, cost and
latency. `keel eval` makes it a deployment gate.
"""

from app.evaluation.dataset import (
    DatasetError,
    LabeledExample,
    read_label_map,
    read_labeled,
    sample,
)
from app.evaluation.metrics import EvalReport, Prediction, score
from app.evaluation.runner import classify_example, evaluate

__all__ = [
    "DatasetError",
    "EvalReport",
    "LabeledExample",
    "Prediction",
    "classify_example",
    "evaluate",
    "read_label_map",
    "read_labeled",
    "sample",
    "score",
]
