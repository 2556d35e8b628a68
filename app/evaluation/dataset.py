"""Reading labeled sets: CSV (text,label[,language]) or JSON lines, plain or API-shaped.

Column aliases let the public sets load as they are: `utt`/`text`, `category`/`intent`/
`label`, `locale`/`lang`/`language` (a locale such as `es-ES` counts as `es`), and an
optional `group`/`id`/`conversation_id` that keeps related examples together. A JSON
line is `{"text", "label", "language"?}` or a message as the API takes it, with the
label in `metadata.label` and the language in `metadata.lang` or `contact.locale`.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.errors import KeelError

TEXT_KEYS = ("text", "utt")
LABEL_KEYS = ("label", "category", "intent")
LANGUAGE_KEYS = ("language", "lang", "locale")
GROUP_KEYS = ("group", "id", "conversation_id")


class DatasetError(KeelError):
    """Raised when a labeled file cannot be read: unknown format, missing columns or labels."""


@dataclass(frozen=True)
class LabeledExample:
    """One text with its true label and, when known, its language and its group (an id
    shared by related examples, such as the translations of one sentence)."""

    text: str
    label: str
    language: str | None = None
    group: str | None = None


def normalize_language(value: object) -> str | None:
    """`es-ES`, `es_ES` and `ES` are all `es`; blank is None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().replace("_", "-").split("-")[0].lower() or None


def _first(row: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = row.get(key)
        if value not in (None, ""):
            return value
    return None


def _from_csv(path: Path) -> list[LabeledExample]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if not columns & set(TEXT_KEYS) or not columns & set(LABEL_KEYS):
            raise DatasetError(
                f"{path.name}: needs a text and a label column, has {sorted(columns)}"
            )
        out = []
        for number, row in enumerate(reader, start=2):
            text, label = _first(row, TEXT_KEYS), _first(row, LABEL_KEYS)
            if not text or not label:
                raise DatasetError(f"{path.name}: row {number} lacks a text or a label")
            language = normalize_language(_first(row, LANGUAGE_KEYS))
            group = _first(row, GROUP_KEYS)
            out.append(LabeledExample(str(text), str(label), language, group and str(group)))
        return out


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def example_from_json(data: Mapping[str, Any]) -> LabeledExample | None:
    """A labeled example from a plain or API-shaped object; None when it has no label."""
    metadata = _object(data.get("metadata"))
    contact = _object(data.get("contact"))
    text = _first(data, TEXT_KEYS)
    label = _first(data, LABEL_KEYS) or _first(metadata, LABEL_KEYS)
    if not isinstance(text, str) or not text or label is None:
        return None
    language = (
        _first(data, LANGUAGE_KEYS) or _first(metadata, LANGUAGE_KEYS) or contact.get("locale")
    )
    group = _first(data, GROUP_KEYS)
    return LabeledExample(text, str(label), normalize_language(language), group and str(group))


def _from_jsonl(path: Path) -> list[LabeledExample]:
    out = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path.name}: line {number} is not JSON") from exc
            example = example_from_json(data) if isinstance(data, dict) else None
            if example is None:
                raise DatasetError(f"{path.name}: line {number} lacks a text or a label")
            out.append(example)
    return out


def read_labeled(
    path: Path | str, *, label_map: Mapping[str, str] | None = None
) -> list[LabeledExample]:
    """Every example of a CSV or JSON lines file, labels mapped through `label_map`.

    Raises:
        DatasetError: the file is unreadable, of another format, or an example is incomplete.
    """
    source = Path(path)
    try:
        with source.open("rb") as handle:
            head = handle.read(256).lstrip()
    except OSError as exc:
        raise DatasetError(f"{source}: {exc.strerror}") from exc
    if source.suffix.lower() in (".jsonl", ".ndjson", ".json") or head.startswith(b"{"):
        examples = _from_jsonl(source)
    else:
        examples = _from_csv(source)
    if not examples:
        raise DatasetError(f"{source.name}: no examples")
    if label_map:
        examples = [replace(e, label=label_map.get(e.label, e.label)) for e in examples]
    return examples


def read_label_map(path: Path | str) -> dict[str, str]:
    """A JSON object mapping a dataset's labels to the policy's intents.

    Raises:
        DatasetError: not a JSON object of strings.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"label map {path}: not a readable JSON object") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DatasetError(f"label map {path}: must map labels to intent names (strings)")
    return {str(k): v for k, v in data.items()}


def sample(
    examples: Sequence[LabeledExample], limit: int | None, *, seed: int = 0
) -> list[LabeledExample]:
    """A seeded sample of at most `limit` examples, kept in file order (a file sorted by
    label would otherwise give its first labels only)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]
