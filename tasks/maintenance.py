"""Beat tasks on `keel.maintenance`."""

from __future__ import annotations

from app.pipeline.scheduled import release_due
from tasks import app


@app.task(name="keel.release_scheduled")
def release_scheduled() -> int:
    """Enqueue delivery of scheduled replies whose send time has come."""
    return release_due()
