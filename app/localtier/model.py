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

    _fast: _Compiled | None = field(default=None, init=False, repr=False, compare=False)

    def predict_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, calibrated confidence) per text."""
        if not texts:
            return []
        if self._fast is None:
            self._fast = _Compiled(self.pipeline)
        probabilities = self._fast.predict_proba(list(texts))
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


class _Compiled:
    """The fitted pipeline's arithmetic without scikit-learn's per-call machinery.

    scikit-learn validates its input at every step of `predict_proba` (about 20 checks
    for one text through the vectorizers and the calibrators, one per class) and builds
    sparse matrices for a text of a few dozen n-grams; both cost far more than the
    sums: 1.2 ms a message against about 0.1. For the shape `build_pipeline` makes (two
    TF-IDF vectorizers in a FeatureUnion, a one-vs-rest linear model, one sigmoid per
    class, `ensemble=False`) this does the same sums with numpy: each vectorizer's own
    analyzer and vocabulary, sublinear term frequencies times the idf weights,
    normalised to unit length, in the vectorizer's dtype; the product with the stacked
    coefficients of the n-grams present; the sigmoids; the normalisation. Any other
    shape falls back to the pipeline (`exact` False); a test checks both give the same
    probabilities on the bundled model's training set and the demo inbox.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.exact = False
        try:
            features = pipeline.named_steps["features"]
            calibrated = pipeline.named_steps["classifier"].calibrated_classifiers_
            (only,) = calibrated
            estimator = only.estimator
            classes = only.classes
            if (
                only.method != "sigmoid"
                or len(classes) <= 2
                or list(estimator.classes_) != list(classes)
                or len(only.calibrators) != len(classes)
            ):
                return
            import numpy as np

            found = [_Vectorizer.of(t) for _, t in features.transformer_list]
            vectorizers = [v for v in found if v is not None]
            if features.transformer_weights or len(vectorizers) != len(found):
                return
            self.vectorizers = vectorizers
            self.coef_t = np.ascontiguousarray(estimator.coef_.T)
            self.intercept = estimator.intercept_
            self.a = np.asarray([c.a_ for c in only.calibrators])
            self.b = np.asarray([c.b_ for c in only.calibrators])
        except (AttributeError, KeyError, ValueError):
            return
        self.exact = True

    def predict_proba(self, texts: list[str]) -> Any:
        if not self.exact:
            return self.pipeline.predict_proba(texts)
        import numpy as np
        from scipy.special import expit

        scores = np.empty((len(texts), self.coef_t.shape[1]))
        for row, text in enumerate(texts):
            columns: list[Any] = []
            weights: list[Any] = []
            offset = 0
            for vectorizer in self.vectorizers:
                found, weight = vectorizer.weights(text)
                columns.append(found + offset)
                weights.append(weight)
                offset += vectorizer.width
            index = np.concatenate(columns)
            # added up n-gram by n-gram, as scipy's sparse product does
            terms = np.concatenate(weights).astype(np.float64)[:, np.newaxis] * self.coef_t[index]
            summed = np.cumsum(terms, axis=0)[-1] if len(index) else 0.0
            scores[row] = summed + self.intercept
        proba = expit(-(self.a * scores + self.b))
        denominator = proba.sum(axis=1)[:, np.newaxis]
        uniform = np.full_like(proba, 1 / proba.shape[1])
        proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


@dataclass
class _Vectorizer:
    """One fitted TfidfVectorizer's transform of one text, as the n-grams it finds and
    their weights: what its sparse row holds, without the sparse row."""

    analyze: Any
    vocabulary: dict[str, int]
    idf: Any
    dtype: Any
    width: int

    @classmethod
    def of(cls, vectorizer: Any) -> _Vectorizer | None:
        """None for settings this does not reproduce (binary counts, no idf, another
        norm, no sublinear term frequency)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        if (
            type(vectorizer) is not TfidfVectorizer
            or vectorizer.binary
            or not vectorizer.use_idf
            or not vectorizer.sublinear_tf
            or vectorizer.norm != "l2"
        ):
            return None
        return cls(
            analyze=vectorizer.build_analyzer(),
            vocabulary=vectorizer.vocabulary_,
            idf=vectorizer.idf_,
            dtype=vectorizer.dtype,
            width=len(vectorizer.vocabulary_),
        )

    def weights(self, text: str) -> tuple[Any, Any]:
        import numpy as np

        counts: dict[int, int] = {}
        vocabulary = self.vocabulary
        for gram in self.analyze(text):
            column = vocabulary.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        # in column order and in the dtypes scikit-learn uses, so the sums come out the
        # same to the last bit: float32 weights, their squares summed in float64
        found = np.fromiter(sorted(counts), dtype=np.intp, count=len(counts))
        tf = np.fromiter((counts[c] for c in found), dtype=self.dtype, count=len(counts))
        weight = np.log(tf)
        weight += 1.0
        weight *= self.idf[found]
        squares = np.cumsum((weight * weight).astype(np.float64))
        if len(squares) and squares[-1] != 0.0:
            weight = (weight / np.sqrt(squares[-1])).astype(self.dtype)
        return found, weight
