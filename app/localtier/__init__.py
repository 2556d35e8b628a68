"""Tier 0: a small local classifier that answers the easy messages for nothing.

Owns training a multilingual text classifier on labeled history (character and word
n-grams, a calibrated linear model), choosing the confidence threshold that reaches a
requested precision on held-out examples, saving it with a SHA-256 sidecar that is
checked before anything is unpickled, loading it once per process, and the decision
the classify step asks for: the local answer, or None to call the fast tier. Training
lives in `app.localtier.train`; scikit-learn is imported only when a model is built or
loaded.
"""

from app.localtier.errors import ModelFileError, TrainingDataError
from app.localtier.gate import LocalAnswer, classify_locally
from app.localtier.model import LocalModel
from app.localtier.store import cached_model, clear_cache, load_model, save_model
from app.localtier.threshold import (
    CurvePoint,
    ThresholdChoice,
    choose_threshold,
    precision_coverage,
)

__all__ = [
    "CurvePoint",
    "LocalAnswer",
    "LocalModel",
    "ModelFileError",
    "ThresholdChoice",
    "TrainingDataError",
    "cached_model",
    "choose_threshold",
    "classify_locally",
    "clear_cache",
    "load_model",
    "precision_coverage",
    "save_model",
]
