"""Reading labeled sets: CSV with the public sets' column names, JSON lines plain or in
the API's message shape, label maps and seeded samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.evaluation import DatasetError, read_label_map, read_labeled, sample
from app.policy import BUNDLED_POLICY_PATH

INBOX = BUNDLED_POLICY_PATH.parents[1] / "demo" / "data" / "inbox.jsonl"
LOCAL_DATA = Path(__file__).parents[1] / "localtier" / "data"


def test_the_demo_inbox_reads_directly_with_labels_and_languages_from_its_metadata() -> None:
    examples = read_labeled(INBOX)
    assert len(examples) == 349
    first = examples[0]
    assert first.text == "quando começa a próxima turma de inglês para negócios?"
    assert (first.label, first.language, first.group) == ("schedule", "pt", "conv-47987")
    assert {e.language for e in examples} == {"es", "pt", "en"}


def test_csv_columns_of_the_public_sets_are_understood(tmp_path: Path) -> None:
    banking = read_labeled(LOCAL_DATA / "banking77_sample.csv")
    assert len(banking) == 480 and banking[0].language is None
    massive = read_labeled(LOCAL_DATA / "massive_sample.csv")
    assert {e.language for e in massive} == {"en", "es", "pt"}
    assert massive[0].group == massive[1].group == "2"
    path = tmp_path / "mixed.csv"
    path.write_text('utt,intent,locale\n"two\nlines",alarm_set,pt-PT\n', encoding="utf-8")
    assert [(e.text, e.label, e.language) for e in read_labeled(path)] == [
        ("two\nlines", "alarm_set", "pt")
    ]


def test_plain_json_lines_and_a_label_map_give_policy_intents(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [
        {"text": "How much is it?", "label": "price_question", "language": "en"},
        {"text": "Obrigado!", "label": "thanks"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    mapping_file = tmp_path / "map.json"
    mapping_file.write_text(json.dumps({"price_question": "pricing"}), encoding="utf-8")
    examples = read_labeled(path, label_map=read_label_map(mapping_file))
    assert [(e.label, e.language) for e in examples] == [("pricing", "en"), ("thanks", None)]


def test_a_line_without_a_label_is_refused_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="line 2"):
        read_labeled(path)


def test_a_csv_without_a_label_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text("text,other\nhello,1\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="label column"):
        read_labeled(path)


def test_a_sample_is_seeded_and_keeps_file_order() -> None:
    examples = read_labeled(LOCAL_DATA / "banking77_sample.csv")
    picked = sample(examples, 50)
    assert picked == sample(examples, 50) and len(picked) == 50
    order = [examples.index(e) for e in picked]
    assert order == sorted(order)
    assert len({e.label for e in picked}) > 5  # not just the file's first labels
    assert sample(examples, None) == examples
