"""Saving and loading model files, with a SHA-256 sidecar checked before unpickling.

A model file is a pickle (joblib), and unpickling runs code: only a file whose hash
matches its `<file>.sha256` sidecar (the `sha256sum` format) is ever loaded, from the
very bytes that were hashed. A process loads each file once; a new file (another
mtime) is picked up on the next call.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
import threading
from pathlib import Path
from typing import Any

from app.localtier.errors import ModelFileError
from app.localtier.model import FORMAT_VERSION, LocalModel

log = logging.getLogger("keel.localtier")

_cache: dict[str, tuple[tuple[int, int], LocalModel]] = {}
_cache_lock = threading.Lock()


def sidecar_path(path: Path | str) -> Path:
    return Path(f"{path}.sha256")


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_model(model: LocalModel, path: Path | str) -> str:
    """Write the model and its sidecar; returns the SHA-256 hex digest."""
    target = Path(path)
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "pipeline": model.pipeline,
        "labels": model.labels,
        "threshold": model.threshold,
        "min_precision": model.min_precision,
        "info": model.info,
    }
    import joblib

    buffer = io.BytesIO()
    joblib.dump(payload, buffer, compress=3)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, data)
    _write_atomically(sidecar_path(target), f"{digest}  {target.name}\n".encode())
    return digest


def _expected_digest(path: Path) -> str:
    try:
        line = sidecar_path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ModelFileError(
            f"local model {path}: no hash sidecar {sidecar_path(path).name} ({exc.strerror})"
        ) from exc
    digest = line.split()[0].lower() if line else ""
    if len(digest) != 64:
        raise ModelFileError(f"local model {path}: sidecar holds no SHA-256 digest")
    return digest


def load_model(path: Path | str, *, pinned_sha256: str | None = None) -> LocalModel:
    """Load a model file whose SHA-256 matches its sidecar (and `pinned_sha256`, the
    policy's pin, when given).

    Raises:
        ModelFileError: the file or sidecar is missing, the hash differs, or the
            format is not this version's.
    """
    source = Path(path)
    expected = _expected_digest(source)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"local model {source}: cannot read ({exc.strerror})") from exc
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, expected):
        raise ModelFileError(f"local model {source}: SHA-256 does not match its sidecar")
    if pinned_sha256 is not None and not hmac.compare_digest(actual, pinned_sha256):
        raise ModelFileError(
            f"local model {source}: SHA-256 does not match routing.local_model_sha256"
        )
    import joblib
    import sklearn

    payload = joblib.load(io.BytesIO(data))
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"local model {source}: not a format {FORMAT_VERSION} model file")
    info = dict(payload.get("info") or {})
    trained_with = info.get("sklearn_version")
    if trained_with and trained_with != sklearn.__version__:
        log.warning(
            "local model trained with another scikit-learn",
            extra={"trained_with": trained_with, "running": sklearn.__version__},
        )
    return LocalModel(
        pipeline=payload["pipeline"],
        labels=tuple(payload["labels"]),
        threshold=payload["threshold"],
        min_precision=float(payload["min_precision"]),
        info=info,
    )


def cached_model(path: Path | str, *, pinned_sha256: str | None = None) -> LocalModel:
    """The model at `path`, loaded once per process, file version (path and mtimes) and
    pin.

    Raises:
        ModelFileError: as `load_model`.
    """
    source = Path(path).resolve()
    try:
        stamp = (source.stat().st_mtime_ns, sidecar_path(source).stat().st_mtime_ns)
    except OSError as exc:
        raise ModelFileError(f"local model {path}: {exc.strerror}") from exc
    key = f"{source}\n{pinned_sha256 or ''}"
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        model = load_model(source, pinned_sha256=pinned_sha256)
        _cache[key] = (stamp, model)
        return model


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
