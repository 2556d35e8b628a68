"""The example school's labeled history and the local model shipped trained on it.

The history (`app/localtier/data/school_history.jsonl`) trains the bundled model; the
demo inbox measures it (`bench/school_local_tier.py`). Both claims rest on the two never
sharing a message, so the history is checked against every message of the demo inbox
and threads, exactly and for near-copies.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from app.evaluation import read_labeled
from app.localtier import LocalModel, classify_locally, clear_cache, load_model
from app.policy import BUNDLED_POLICY_PATH
from app.policy.loader import parse_policy

ROOT = BUNDLED_POLICY_PATH.parents[2]
HISTORY = ROOT / "app" / "localtier" / "data" / "school_history.jsonl"
MODEL = ROOT / "app" / "localtier" / "models" / "school.joblib"
MODEL_SETTING = "app/localtier/models/school.joblib"  # relative to the working directory
DEMO = ROOT / "app" / "demo" / "data"
LANGUAGES = {"es", "pt", "en"}
NEAR_COPY = 0.75  # Jaccard similarity of character 4-grams, on normalized text
NEAR_COPY_MIN_CHARS = 20  # shorter texts are compared exactly only

# Obvious messages, in none of the files, that the shipped model must get right.
OBVIOUS = (
    ("es", "pricing", "hola, ¿qué precio tiene la clase particular de portugués?"),
    ("es", "enrollment", "quiero matricularme en el curso intensivo de enero, ¿cómo lo hago?"),
    ("es", "schedule", "¿a qué hora empiezan las clases del curso de español por la tarde?"),
    ("pt", "pricing", "qual o preço do curso de espanhol A1? aceitam pix?"),
    ("pt", "enrollment", "quero fazer a matrícula no curso intensivo de janeiro, como faço?"),
    ("pt", "thanks", "muito obrigada pela ajuda!! 😊"),
    ("en", "pricing", "how much does the business english course cost?"),
    ("en", "enrollment", "I want to enrol in the intensive course in january, how do I sign up?"),
    ("en", "schedule", "what time do the evening classes for the spanish course start?"),
)


def normalize(text: str) -> str:
    """Lowercase, accents folded, anything but letters and digits (punctuation,
    emojis) dropped, whitespace collapsed: "¡Gracias!! 🙏" and "gracias" are one text."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def shingles(text: str, size: int = 4) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def _history_rows() -> list[dict]:
    return [json.loads(line) for line in HISTORY.read_text("utf-8").splitlines() if line.strip()]


def _demo_texts() -> list[str]:
    texts = []
    for line in (DEMO / "inbox.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            texts.append(json.loads(line)["text"])
    for line in (DEMO / "threads.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            texts += [m["text"] for m in json.loads(line)["messages"]]
    return texts


def _policy_intents() -> set[str]:
    data = tomllib.loads(BUNDLED_POLICY_PATH.read_text("utf-8"))
    return set(data["routing"]["intents"])


@pytest.fixture(scope="module")
def shipped() -> LocalModel:
    return load_model(MODEL)


def test_the_history_is_labeled_with_the_example_policys_intents_in_three_languages() -> None:
    rows = _history_rows()
    intents = _policy_intents()
    # Every line is a complete example of a known intent and language
    for number, row in enumerate(rows, start=1):
        assert set(row) == {"text", "label", "language", "group"}, number
        assert isinstance(row["text"], str) and row["text"].strip(), number
        assert row["label"] in intents, (number, row["label"])
        assert row["language"] in LANGUAGES, (number, row["language"])
        assert isinstance(row["group"], str) and row["group"], number
    # Enough of them, in every language and for every intent
    languages = Counter(row["language"] for row in rows)
    assert len(rows) >= 1000
    assert all(languages[lang] >= 250 for lang in LANGUAGES), languages
    assert {row["label"] for row in rows} == intents
    # No message twice, and Keel's own reader takes the file as it is
    assert len({normalize(row["text"]) for row in rows}) == len(rows)
    examples = read_labeled(HISTORY)
    assert len(examples) == len(rows)
    assert all(e.group for e in examples)


def test_the_history_shares_no_message_with_the_demo_inbox_or_threads() -> None:
    demo = {normalize(t): t for t in _demo_texts()}
    demo_shingles = [(t, shingles(t)) for t in demo if len(t) >= NEAR_COPY_MIN_CHARS]
    copies, near = [], []
    for row in _history_rows():
        text = normalize(row["text"])
        if text in demo:
            copies.append((row["text"], demo[text]))
            continue
        if len(text) < NEAR_COPY_MIN_CHARS:
            continue
        mine = shingles(text)
        for other, theirs in demo_shingles:
            similarity = len(mine & theirs) / len(mine | theirs)
            if similarity >= NEAR_COPY:
                near.append((round(similarity, 2), row["text"], other))
    assert not copies, copies
    assert not near, near


def test_the_shipped_model_matches_its_sidecar_and_was_trained_on_this_history(
    shipped: LocalModel,
) -> None:
    digest = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    sidecar = Path(f"{MODEL}.sha256").read_text("utf-8").split()
    assert sidecar == [digest, MODEL.name]
    assert set(shipped.labels) == _policy_intents()
    assert shipped.threshold is not None
    assert shipped.min_precision >= 0.97
    assert shipped.info["calibration"]["precision"] >= shipped.min_precision
    # Retrain after editing the history: `keel train <history> --out <model>`
    assert shipped.info["examples"] == len(_history_rows())
    assert shipped.info["grouped"] is True


def test_the_shipped_model_classifies_obvious_messages_in_each_language(
    shipped: LocalModel,
) -> None:
    predictions = shipped.predict_many([text for _, _, text in OBVIOUS])
    wrong = [
        (text, label, got)
        for (_, label, text), (got, _) in zip(OBVIOUS, predictions, strict=True)
        if got != label
    ]
    assert not wrong
    for language in LANGUAGES:
        answered = [
            shipped.answers(confidence)
            for (lang, _, _), (_, confidence) in zip(OBVIOUS, predictions, strict=True)
            if lang == language
        ]
        assert any(answered), language


def test_the_example_policy_with_the_shipped_model_answers_locally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the bundled policy, which turns the model on and pins its hash, read from
    # another folder (a relative path also resolves against the folder of Keel's package)
    monkeypatch.chdir("/")
    digest = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    text = BUNDLED_POLICY_PATH.read_text("utf-8")
    assert f'local_model = "{MODEL_SETTING}"' in text
    assert f'local_model_sha256 = "{digest}"' in text
    policy = parse_policy(text, source="example policy")
    clear_cache()
    try:
        # When obvious questions come in, the local tier answers some in every language,
        # each with the right intent, and leaves the rest to the classify tier
        answers = [
            (lang, label, classify_locally(policy=policy, text=t)) for lang, label, t in OBVIOUS
        ]
        assert all(a.intent == label for _, label, a in answers if a is not None)
        assert {lang for lang, _, a in answers if a is not None} == LANGUAGES
        assert all(a.model_name == MODEL.name for _, _, a in answers if a is not None)
    finally:
        clear_cache()


def test_the_compiled_arithmetic_gives_the_pipelines_own_probabilities() -> None:
    """`LocalModel.predict_many` skips scikit-learn's per-call checks; on every message
    of the history and the demo inbox it must give what the pipeline itself gives."""
    import numpy as np

    from app.demo.run import load_inbox
    from app.localtier.model import _Compiled

    model = load_model(MODEL)
    compiled = _Compiled(model.pipeline)
    assert compiled.exact  # the shape `build_pipeline` makes is the one compiled
    texts = [row.text for row in read_labeled(HISTORY)] + [str(m["text"]) for m in load_inbox()]
    expected = model.pipeline.predict_proba(texts)
    got = compiled.predict_proba(texts)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=0, atol=1e-12)
    one_by_one = [model.predict(text) for text in texts[:50]]
    classes = model.pipeline.classes_
    assert one_by_one == [
        (str(classes[i]), float(expected[row, i])) for row, i in enumerate(expected[:50].argmax(1))
    ]


def test_a_pipeline_of_another_shape_is_not_compiled() -> None:
    """Anything but `build_pipeline`'s shape goes through scikit-learn as it is."""
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import Pipeline

    from app.localtier.model import _Compiled

    other = Pipeline([("features", CountVectorizer()), ("classifier", DummyClassifier())])
    other.fit(["hola", "olá", "hello"], ["es", "pt", "en"])
    compiled = _Compiled(other)
    assert not compiled.exact
    assert compiled.predict_proba(["hola"]).shape == (1, 3)
