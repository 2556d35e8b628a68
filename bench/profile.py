"""`make profile`: where a Keel worker's CPU goes, sampled by py-spy while the
Procfile's worker (its processes, at their defaults) runs the pipeline at 1 s of provider
latency; only the thread holding the GIL is sampled, which is the Python CPU a process
spends. Writes the "Where the worker's CPU goes" section of BENCHMARKS.md.

Each sample is charged to the innermost frame that belongs to a known part (standard
library frames are charged to their caller): the Postgres driver, SQLAlchemy, redis-py,
Celery, the provider SDKs and their HTTP client, Keel's audit chain, its guardrails,
the rest of Keel.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.keel_runs import seed, use_env
from bench.report import write_section
from bench.stack import fresh_database, keel_stack, procfile_worker_pool, tree

HERE = Path(__file__).resolve().parent
# (substring of a frame's file, part), the first match wins; frames look like
# "function (path/to/file.py:line)" with site-packages stripped by py-spy.
PARTS: tuple[tuple[str, str], ...] = (
    ("(psycopg", "Postgres driver (psycopg)"),
    ("(sqlalchemy/", "SQLAlchemy and SQLModel"),
    ("(sqlmodel/", "SQLAlchemy and SQLModel"),
    ("(redis/", "redis-py (Keel's state and Celery's broker)"),
    ("(anthropic/", "provider SDKs and their HTTP client"),
    ("(openai/", "provider SDKs and their HTTP client"),
    ("(httpx", "provider SDKs and their HTTP client"),
    ("(httpcore", "provider SDKs and their HTTP client"),
    ("(h11/", "provider SDKs and their HTTP client"),
    ("(app/db/", "Keel's database layer (app/db: statements straight through psycopg)"),
    ("(app/delivery/", "webhook delivery"),
    ("(app/audit/", "audit rows and hash chain"),
    ("(app/guardrails/", "guardrails"),
    ("(app/localtier/", "guardrails"),
    ("(app/observability/", "logging and Sentry hooks"),
    ("(logging/", "logging and Sentry hooks"),
    ("(sentry_sdk/", "logging and Sentry hooks"),
    ("(app/", "rest of Keel (steps, routing, breakers)"),
    ("(tasks/", "rest of Keel (steps, routing, breakers)"),
    ("(kombu/", "Celery, kombu and billiard (per task; the baseline pays it too)"),
    ("(celery/", "Celery, kombu and billiard (per task; the baseline pays it too)"),
    ("(billiard/", "Celery, kombu and billiard (per task; the baseline pays it too)"),
)


def part_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for needle, part in PARTS:
            if needle in frame:
                return part
    return "other (interpreter, standard library)"


def shares(raw_files: list[Path]) -> tuple[int, collections.Counter[str]]:
    """Samples per part over py-spy's raw (collapsed stack) output files."""
    by_part: collections.Counter[str] = collections.Counter()
    total = 0
    for path in raw_files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            by_part[part_of(stack.split(";"))] += int(count)
    return total, by_part


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2400)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--latency-ms", default="1000")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(__file__).parents[1] / ".venv/bin/py-spy")
    from app.broker import enqueue_many
    from app.db.migrate import upgrade
    from app.policy import get_policy

    with tempfile.TemporaryDirectory(prefix="keel-profile-") as tmp:
        workdir = Path(tmp)
        with (
            fresh_database() as url,
            keel_stack(latency_ms=args.latency_ms, workdir=workdir, database_url=url) as stack,
        ):
            use_env(stack.env)
            upgrade()
            ids = seed(args.messages, distinct_contacts=True)
            worker = stack.start_procfile("worker")
            enqueue_many((("ingest", mid, None) for mid in ids), policy=get_policy())
            time.sleep(5)  # past the start-up and the first model calls
            processes = len(tree(worker.pid))
            output = workdir / "spy.txt"
            subprocess.run(
                [
                    py_spy, "record", "--pid", str(worker.pid), "--subprocesses", "--gil",
                    "--nonblocking", "--rate", "200", "--duration", str(args.seconds),
                    "--format", "raw", "--output", str(output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )  # fmt: skip
            stack.group.stop(worker)
        total, by_part = shares([output] if output.exists() else [])
    if not total:
        raise SystemExit("py-spy recorded nothing (is ptrace allowed here?)")
    pool, threads = procfile_worker_pool()
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `make profile` "
        f"(`bench/profile.py`): py-spy sampling the Procfile's worker ({processes} "
        f"processes of {pool} x{threads}) at 200 Hz for {args.seconds} s while it ran "
        f"the pipeline with {int(args.latency_ms) / 1000:g} s per model call; only the "
        "thread holding the GIL is sampled, so the shares are of the Python CPU the "
        f"processes spent. {total} samples.",
        "",
        "| part | share of the worker's CPU |",
        "|---|---|",
        *(f"| {part} | {n / total:.0%} |" for part, n in by_part.most_common()),
    ]
    write_section(HERE.parent / "BENCHMARKS.md", "## Where the worker's CPU goes", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
