"""Training the local tier on real labeled history (small samples of the public sets)."""

from __future__ import annotations

import pytest

from app.evaluation import read_labeled
from app.localtier import TrainingDataError, precision_coverage
from app.localtier.train import _split, train_model
from tests.localtier.conftest import BANKING, MASSIVE, split


def test_a_model_trained_on_banking_history_classifies_unseen_questions() -> None:
    # Given three quarters of the Banking77 sample to train on
    train, held = split(read_labeled(BANKING), held_share=0.25)
    model = train_model([e.text for e in train], [e.label for e in train], min_precision=0.9)
    # When it classifies the other quarter
    predictions = model.predict_many([e.text for e in held])
    correct = [label == e.label for (label, _), e in zip(predictions, held, strict=True)]
    # Then most are right, and a threshold was chosen on its own calibration split
    assert sum(correct) / len(correct) >= 0.85
    assert model.threshold is not None
    assert model.info["calibration"]["precision"] >= 0.9
    assert model.info["fitted_on"] + model.info["calibration"]["examples"] == len(train)
    assert all(0.0 <= confidence <= 1.0 for _, confidence in predictions)


def test_one_model_classifies_english_spanish_and_portuguese_sentences_it_never_saw() -> None:
    # Given MASSIVE utterances in three locales, split by id so no translation leaks
    train, held = split(read_labeled(MASSIVE), held_share=0.25, by_group=True)
    assert not {e.group for e in train} & {e.group for e in held}
    model = train_model(
        [e.text for e in train], [e.label for e in train], groups=[e.group for e in train]
    )
    assert model.info["grouped"] is True
    # Then each language of the held-out ids is mostly right
    for language in ("en", "es", "pt"):
        part = [e for e in held if e.language == language]
        predictions = model.predict_many([e.text for e in part])
        right = sum(label == e.label for (label, _), e in zip(predictions, part, strict=True))
        assert right / len(part) >= 0.8, language
    # And answers at or above the threshold are more precise than all answers together
    predictions = model.predict_many([e.text for e in held])
    correct = [label == e.label for (label, _), e in zip(predictions, held, strict=True)]
    assert model.threshold is not None
    point = precision_coverage([c for _, c in predictions], correct, [model.threshold])[0]
    assert point.precision is not None and point.precision > sum(correct) / len(correct)


def test_translations_of_one_sentence_stay_on_one_side_of_the_calibration_split() -> None:
    examples = read_labeled(MASSIVE)
    labels = [e.label for e in examples]
    groups = [e.group or "" for e in examples]
    fit_idx, cal_idx = next(_split(labels, groups, folds=5, seed=0))
    assert {groups[i] for i in fit_idx}.isdisjoint({groups[i] for i in cal_idx})
    assert len(cal_idx) > 0


def test_labels_with_too_few_examples_are_left_out_and_listed() -> None:
    examples = read_labeled(BANKING)
    texts = [e.text for e in examples] + ["a lone question", "another lone one"]
    labels = [e.label for e in examples] + ["rare_label", "rare_label"]
    model = train_model(texts, labels)
    assert model.info["skipped_labels"] == {"rare_label": 2}
    assert "rare_label" not in model.labels and len(model.labels) == 12


def test_history_with_a_single_label_is_refused() -> None:
    with pytest.raises(TrainingDataError):
        train_model([f"text {i}" for i in range(20)], ["only"] * 20)
