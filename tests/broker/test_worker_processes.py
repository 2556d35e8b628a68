"""The Procfile's worker as two processes (`app/broker/processes.py`): the main one
warms up and forks a copy; both take work and share the warmed-up pages; a copy that
dies stops the worker, a main process that dies takes its copy with it, and SIGTERM to
the dyno stops every process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.broker import enqueue_many
from app.policy import get_policy
from tests.helpers import poll
from tests.pipeline.test_steps import load, new_message

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 60.0  # generous: a bound on a hang, not a speed check


def procfile_worker() -> str:
    for line in (ROOT / "Procfile").read_text("utf-8").splitlines():
        if line.startswith("worker:"):
            return line.partition(":")[2].strip()
    raise AssertionError("no worker in the Procfile")


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def memory_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    match = re.search(rf"^{field}:\s+(\d+)", text, re.MULTILINE)
    assert match, field
    return int(match.group(1))


def wait_for(condition: Callable[[], Any], *, what: str, timeout_s: float = STOP_TIMEOUT_S) -> Any:
    value = poll(condition, timeout_s, every_s=0.2)
    assert value, f"{what}: not within {timeout_s} s"
    return value


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie the test has not reaped counts as gone
    return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()


class Dyno:
    """The Procfile's worker line, run by a shell in a process group of its own."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.log = workdir / "worker.log"
        line = procfile_worker()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", f'cd "$0" && exec env {line}', str(workdir)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            lambda: self.text().count(" ready.") >= 2 or self.proc.poll() is not None,
            what="two worker processes ready",
            timeout_s=START_TIMEOUT_S,
        )
        assert self.proc.poll() is None, self.text()[-3000:]
        self.main = self.proc.pid
        (self.copy,) = children(self.main)

    def text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(ln) for ln in self.text().splitlines() if ln.startswith("{")]

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.main, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
                break
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def start_dyno(
    keel_env: dict[str, str], simulator: str, open_window_policy: str, tmp_path: Path
) -> Iterator[Callable[[], Dyno]]:
    """Starts Procfile workers at their defaults; every one is stopped at the end."""
    env = {
        **os.environ,
        **keel_env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("WORKER_PROCESSES", None)
    env.pop("WORKER_CONCURRENCY", None)
    started: list[Dyno] = []

    def start() -> Dyno:
        workdir = tmp_path / f"dyno-{len(started)}"
        workdir.mkdir()
        started.append(Dyno(env, workdir))
        return started[-1]

    try:
        yield start
    finally:
        for each in started:
            each.stop()


def test_two_processes_take_work_share_their_warm_up_and_stop_on_sigterm(
    start_dyno: Callable[[], Dyno],
) -> None:
    dyno = start_dyno()
    # They share pages: the proportional sizes add up to far less than the resident ones.
    rss = memory_kb(dyno.main, "Rss") + memory_kb(dyno.copy, "Rss")
    pss = memory_kb(dyno.main, "Pss") + memory_kb(dyno.copy, "Pss")
    assert rss - pss > 50 * 1024, (rss, pss)
    # Both consume: 60 messages run through both processes.
    ids = [new_message(external_id=f"wa-proc-{i}") for i in range(60)]
    enqueue_many((("ingest", mid, None) for mid in ids), policy=get_policy())
    wait_for(
        lambda: all(load(mid).state in ("sent", "escalated", "no_reply") for mid in ids),
        what="every message settled",
        timeout_s=180,
    )
    steps_by = {r["pid"] for r in dyno.records() if r.get("msg") == "step finished"}
    assert steps_by == {dyno.main, dyno.copy}
    names = re.findall(r"(\S+@\S+) ready\.", dyno.text())
    assert len(set(names)) == 2, names  # Flower tells them apart
    # SIGTERM to the dyno (Heroku signals every process of it) stops both.
    os.killpg(dyno.main, signal.SIGTERM)
    dyno.proc.wait(timeout=STOP_TIMEOUT_S)
    wait_for(lambda: gone(dyno.copy), what="the copy ending")
    assert "a worker process exited" not in dyno.text()  # it was asked to stop


def test_a_dead_copy_stops_the_worker_and_a_dead_main_process_takes_its_copy_along(
    start_dyno: Callable[[], Dyno],
) -> None:
    lost_copy, lost_main = start_dyno(), start_dyno()
    os.kill(lost_copy.copy, signal.SIGKILL)  # out of memory, say
    os.kill(lost_main.main, signal.SIGKILL)
    # the worker stops, so the platform restarts it whole
    wait_for(lambda: lost_copy.proc.poll() is not None, what="the main process stopping")
    assert "a worker process exited" in lost_copy.text()
    # Linux's parent-death signal reaches the copy
    wait_for(lambda: gone(lost_main.copy), what="the orphaned copy ending")
