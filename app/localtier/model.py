"""The local classifier: character and word n-grams into a calibrated linear model.

Character n-grams inside word boundaries (2-5) carry Spanish, Portuguese and English
alike, typos and accents included (accents are folded); word unigrams and bigrams add
the phrases. A linear SVM is fast to fit on two cores, and sigmoid calibration over
cross-validated scores turns its margins into probabilities a threshold can trust.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

FORMAT_VERSION = 1
SVM_C = 0.5
CALIBRATION_FOLDS = 3


def build_pipeline(
    *, seed: int = 0, cv: Any = CALIBRATION_FOLDS, n_jobs: int | None = None
) -> Pipeline:
    """An unfitted pipeline: text in, calibrated class probabilities out. `cv` may be
    precomputed (train, test) index splits, so related examples stay on one side."""
    # scikit-learn loads in about a second: only processes that use the tier pay for it.
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    features = FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                    strip_accents="unicode",
                    dtype=np.float32,
                ),
            ),
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    strip_accents="unicode",
                    dtype=np.float32,
                ),
            ),
        ]
    )
    classifier = CalibratedClassifierCV(
        LinearSVC(C=SVM_C, random_state=seed),
        method="sigmoid",
        cv=cv,
        n_jobs=n_jobs,
        ensemble=False,
    )
    return Pipeline([("features", features), ("classifier", classifier)])


@dataclass
class LocalModel:
    """A fitted pipeline with the confidence threshold chosen for it.

    `threshold` is None when no threshold reached `min_precision` on the calibration
    split: such a model never answers on its own.
    """

    pipeline: Pipeline
    labels: tuple[str, ...]
    threshold: float | None
    min_precision: float
    info: dict[str, Any] = field(default_factory=dict)

    def predict_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, calibrated confidence) per text."""
        if not texts:
            return []
        probabilities = self.pipeline.predict_proba(list(texts))
        classes = self.pipeline.classes_
        best = probabilities.argmax(axis=1)
        return [(str(classes[i]), float(probabilities[row, i])) for row, i in enumerate(best)]

    def predict(self, text: str) -> tuple[str, float]:
        """(label, calibrated confidence) of one text."""
        return self.predict_many([text])[0]

    def answers(self, confidence: float, *, min_confidence: float | None = None) -> bool:
        """Whether a prediction this confident is answered locally."""
        bar = self.threshold if min_confidence is None else min_confidence
        return bar is not None and confidence >= bar
