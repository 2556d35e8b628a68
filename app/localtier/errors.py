"""The local tier's errors, leaves of Keel's error tree."""

from __future__ import annotations

from app.errors import ConfigError, KeelError


class TrainingDataError(KeelError):
    """Raised when labeled examples cannot train a model (too few, one label only)."""


class ModelFileError(ConfigError):
    """Raised when a model file is missing, altered (hash mismatch) or of another format."""
