"""Beat tasks on `keel.maintenance`: each calls one function in app/."""

from __future__ import annotations

from app.pipeline.parking import drain
from app.pipeline.reconcile import reconcile as reconcile_stalled
from app.pipeline.scheduled import release_due, release_held
from app.policy import get_policy
from tasks import app

DRAIN_INTERVAL_S = 1.0


@app.task(name="keel.release_scheduled")
def release_scheduled() -> int:
    """Enqueue delivery of scheduled replies whose send time has come."""
    return release_due()


@app.task(name="keel.drain_parked")
def drain_parked() -> dict[str, int]:
    """Probe tiers with parked messages; drain those that answer, oldest first."""
    result = drain(policy=get_policy(), interval_s=DRAIN_INTERVAL_S)
    return {**result.drained, "expired": result.expired}


@app.task(name="keel.reconcile")
def reconcile() -> int:
    """Re-enqueue messages with no progress and no queued task (lost queues, dead workers)."""
    return reconcile_stalled(policy=get_policy())


@app.task(name="keel.release_held")
def release_held_messages() -> int:
    """Enqueue classification of messages whose burst has been quiet for `coalesce_s`."""
    return release_held()


@app.task(name="keel.heartbeat")
def heartbeat() -> str:
    """Proof that beat sends and a worker runs, once a minute: Sentry Crons watches it
    (beat's `keel-heartbeat` entry), so a dead beat alerts. Does nothing else."""
    return "ok"
