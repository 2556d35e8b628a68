"""Model files: saved with a SHA-256 sidecar, never unpickled when the hash differs."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import pytest

from app.localtier import LocalModel, ModelFileError, cached_model, load_model, save_model


class _Exploit:
    """Unpickling this runs code: it creates the file named in `marker`."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def test_a_saved_model_loads_back_and_predicts_the_same(
    banking_model: LocalModel, tmp_path: Path
) -> None:
    path = tmp_path / "tier0.joblib"
    digest = save_model(banking_model, path)
    assert Path(f"{path}.sha256").read_text() == f"{digest}  tier0.joblib\n"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    loaded = load_model(path)
    text = "How long does a transfer take to arrive?"
    assert loaded.predict(text) == banking_model.predict(text)
    assert loaded.threshold == banking_model.threshold
    assert loaded.labels == banking_model.labels


def test_a_model_file_altered_after_saving_is_refused_before_unpickling(tmp_path: Path) -> None:
    # Given a saved model whose file is then replaced by a pickle that runs code
    path = tmp_path / "tier0.joblib"
    path.write_bytes(b"placeholder")
    Path(f"{path}.sha256").write_text(hashlib.sha256(b"placeholder").hexdigest() + "\n")
    marker = tmp_path / "pwned"
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    # When it is loaded, Then it is refused and the pickle never ran
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_model(path)
    assert not marker.exists()


def test_a_model_file_without_its_sidecar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tier0.joblib"
    path.write_bytes(pickle.dumps({"format_version": 1}))
    with pytest.raises(ModelFileError, match="sidecar"):
        load_model(path)


def test_a_file_of_another_format_is_refused_even_with_a_matching_hash(tmp_path: Path) -> None:
    path = tmp_path / "other.pkl"
    data = pickle.dumps({"format_version": 99})
    path.write_bytes(data)
    Path(f"{path}.sha256").write_text(hashlib.sha256(data).hexdigest())
    with pytest.raises(ModelFileError, match="format"):
        load_model(path)


def test_a_process_loads_a_model_once_and_again_after_the_file_changes(
    banking_model: LocalModel, tmp_path: Path
) -> None:
    path = tmp_path / "tier0.joblib"
    save_model(banking_model, path)
    first = cached_model(path)
    assert cached_model(path) is first
    save_model(banking_model, path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cached_model(path) is not first
