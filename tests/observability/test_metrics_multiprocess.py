"""With PROMETHEUS_MULTIPROC_DIR set, every process on the machine counts into files
there, and the one serving `/metrics` sums them all (prefork children, several web
processes); a directory that is not there fails with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
COUNT = (
    "from app.observability import counters\n"
    "counters.MESSAGES.labels(state='sent', reason='').inc({n})\n"
    "counters.STEP_SECONDS.labels(step='draft', outcome='advanced').observe(0.2)\n"
)
SERVE = (
    "from prometheus_client import generate_latest\n"
    "from app.observability.metrics import registry\n"
    "print(generate_latest(registry()).decode())\n"
)


def run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_serving_process_sums_the_counters_of_every_process(
    keel_env: dict[str, str], tmp_path: Path
) -> None:
    # Given two worker processes that counted into one directory, then exited
    env = {**keel_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (3, 4):
        assert run(COUNT.format(n=n), env).returncode == 0
    # When a third process serves /metrics
    served = run(SERVE, env)
    assert served.returncode == 0, served.stderr
    # Then it answers the sum of both, and its own live figures
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(served.stdout)
        for s in family.samples
    }
    assert samples[("keel_messages_total", (("reason", ""), ("state", "sent")))] == 7
    step = (("outcome", "advanced"), ("step", "draft"))
    assert samples[("keel_step_duration_seconds_count", step)] == 2
    assert samples[("keel_metrics_source_up", (("source", "broker"),))] == 1


def test_a_multiprocess_directory_that_is_not_there_is_named_at_start(
    keel_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**keel_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}
    served = run("from app.observability.metrics import multiproc_dir\nmultiproc_dir()", env)
    assert served.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in served.stderr.strip().splitlines()[-1]
