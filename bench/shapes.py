"""Why the worker's default is two processes of 48 threads: the same messages at 1 s of
model latency through workers of other shapes (one process of 64 threads; one of 48; two
of 32, the default before; two of 48, the Procfile's default), each against the same
kind of stack, measuring messages per second and the CPU each message costs.
`make bench` runs it and rewrites the "Worker shapes" section of BENCHMARKS.md."""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.keel_runs import seed, settled_count, use_env
from bench.report import write_section
from bench.run import machine
from bench.stack import cpu_s, fresh_database, keel_stack, machine_busy_s, pss_mb

HERE = Path(__file__).resolve().parent
SHAPES = ((1, 64), (1, 48), (2, 32), (2, 48))


@dataclass(frozen=True)
class ShapeRun:
    processes: int
    threads: int
    per_s: float
    cpu_ms: float  # the worker processes' CPU per message
    machine_ms: float  # every process on the machine, per message
    pss_mb: float  # the worker processes' proportional memory at the end


def run_shape(processes: int, threads: int, *, n: int) -> ShapeRun:
    """`processes` independent workers of `threads` threads (separate processes, so the
    memory figure is not the forked default's: only the speed is compared here)."""
    from app.broker import enqueue_many
    from app.db.migrate import upgrade
    from app.policy import get_policy

    with (
        tempfile.TemporaryDirectory(prefix="keel-bench-shapes-") as tmp,
        fresh_database() as url,
        keel_stack(latency_ms="1000", workdir=Path(tmp), database_url=url) as stack,
    ):
        use_env(stack.env)
        upgrade()
        ids = seed(n, distinct_contacts=True)
        workers = [
            stack.start_worker(pool="threads", concurrency=threads) for _ in range(processes)
        ]
        cpu_before = sum(cpu_s(w.pid) for w in workers)
        machine_before = machine_busy_s()
        started = time.monotonic()
        enqueue_many((("ingest", mid, None) for mid in ids), policy=get_policy())
        while settled_count() < n:
            if time.monotonic() - started > 1800:
                raise TimeoutError(f"only {settled_count()} of {n} settled")
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        cpu = sum(cpu_s(w.pid) for w in workers) - cpu_before
        busy = machine_busy_s() - machine_before
        memory = sum(pss_mb(w.pid) for w in workers)
        for worker in workers:
            stack.group.stop(worker)
    return ShapeRun(processes, threads, n / elapsed, 1000 * cpu / n, 1000 * busy / n, memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    runs = [run_shape(p, t, n=args.messages) for p, t in SHAPES]
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine()} by "
        "`python -m bench.shapes` (`make bench` runs it): the demo inbox cycled "
        f"({args.messages} messages, each copy a new contact's) at 1 s of model latency, "
        "through threads-pool workers of three shapes, each started on its own against "
        "the same kind of stack. CPU per message: the worker processes', and every "
        "process's on the machine (Postgres, Redis, the simulator and the webhook receiver "
        "share these two cores).",
        "",
        "| worker processes x threads | messages/s | worker CPU ms/msg | machine CPU ms/msg |",
        "|---|---|---|---|",
        *(
            f"| {r.processes} x {r.threads} | {r.per_s:.1f} | {r.cpu_ms:.1f} | {r.machine_ms:.1f} |"
            for r in runs
        ),
        "",
        *(
            f"- {r.processes} x {r.threads}: {r.cpu_ms * r.per_s / 1000:.2f} of a core "
            f"for {r.per_s:.1f} messages/s."
            for r in runs
        ),
        "",
        "A thread holds one model call at a time, and a message needs about 1.2 s of "
        "model time at 1 s a call, so a worker carries at most its threads / 1.2 s. One "
        "process computes on one core at most and its threads take turns on it: 64 "
        "threads in one process stay on that one core. Two processes of 48 threads hold "
        "96 calls on two cores, each process still well short of a core: the Procfile's "
        "default (`app/broker/processes.py` forks the second after the warm-up, so they "
        "share memory; the workers here are started apart).",
    ]
    if not args.no_write:
        write_section(HERE.parent / "BENCHMARKS.md", "## Worker shapes", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
