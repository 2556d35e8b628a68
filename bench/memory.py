"""`python -m bench.memory`: where the memory of the Procfile's processes goes; writes
the "Worker memory" section of BENCHMARKS.md (between its markers).

Two measurements:
1. Per library: the resident memory and the seconds one import (or, for lingua, building
   the detector and using it) adds to a fresh interpreter, and what the entry points
   (`import tasks` for worker and beat, `import app.api` for web) load at start.
2. Per process: web, worker and beat started from the Procfile's own lines (defaults,
   then worker variants) against a fresh database, Redis namespace and the simulator at
   zero latency; messages posted through web until every one settled. VmRSS and PSS
   (`/proc/<pid>/smaps_rollup`) of every process of each tree at start and at the end,
   and the peak of the tree's RSS sampled every 0.25 s in between. RSS counts the pages
   forked children share once per process; PSS splits them, so a tree's PSS is what
   its container (a dyno) holds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from app.demo import procs
from app.demo.run import inbox_messages
from bench.keel_runs import SETTLED, use_env
from bench.stack import REDIS_URL, fresh_database, keel_stack, peer_ports, procfile, tree

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "BENCHMARKS.md"
START, END = "<!-- memory:start -->", "<!-- memory:end -->"
HEAVY = ("lingua", "sklearn", "numpy", "scipy", "anthropic", "openai", "sentry_sdk")
TEXTS = (
    "Hola, quiero saber el precio del curso de inglés para adultos",
    "Olá, quero saber o preço do curso de espanhol à noite",
    "Hi, how much is the evening Portuguese course?",
)
# (label, setup not counted, what is counted)
LIBRARIES: tuple[tuple[str, str, str], ...] = (
    ("lingua (the module)", "", "import lingua"),
    (
        "lingua's es/pt/en detector (low accuracy), built and used once per language",
        "import app.guardrails.langdetect as ld",
        f"[ld.detect(t) for t in {TEXTS!r}]",
    ),
    (
        "scikit-learn (what the local tier imports; numpy and scipy with it)",
        "",
        "import sklearn.calibration, sklearn.feature_extraction.text, sklearn.pipeline, "
        "sklearn.svm",
    ),
    ("numpy", "", "import numpy"),
    ("anthropic SDK", "", "import anthropic"),
    ("openai SDK", "", "import openai"),
    ("both provider SDKs", "", "import anthropic, openai"),
    ("sentry_sdk", "", "import sentry_sdk"),
    ("SQLAlchemy and SQLModel", "", "import sqlalchemy, sqlmodel"),
    ("psycopg", "", "import psycopg"),
    ("redis-py", "", "import redis"),
    ("Celery and its worker", "", "import celery.apps.worker, celery.worker"),
    ("httpx", "", "import httpx"),
    ("FastAPI", "", "import fastapi"),
)
ENTRY_POINTS: tuple[tuple[str, str], ...] = (
    ("worker and beat: `import tasks`", "import tasks"),
    ("web: `import app.api`", "import app.api"),
)
PROBE = """
import json, re, sys, time
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
exec(sys.argv[1])
before, started = rss(), time.perf_counter()
exec(sys.argv[2])
seconds, after = time.perf_counter() - started, rss()
heavy = [m for m in sys.argv[3].split(",") if m in sys.modules]
print(json.dumps({"kib": after - before, "s": seconds, "heavy": heavy}))
"""


@dataclass(frozen=True)
class Cost:
    label: str
    mib: float
    seconds: float
    heavy: list[str]


def import_cost(label: str, setup: str, statement: str, *, rounds: int) -> Cost:
    """Median over `rounds` fresh interpreters (the first one also warms the disk cache)."""
    runs = []
    for _ in range(rounds + 1):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, setup, statement, ",".join(HEAVY)],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        runs.append(json.loads(out.strip().splitlines()[-1]))
    runs = sorted(runs[1:], key=lambda r: r["kib"])
    mid = runs[len(runs) // 2]
    seconds = sorted(r["s"] for r in runs)[len(runs) // 2]
    return Cost(label, mid["kib"] / 1024, seconds, mid["heavy"])


# --------------------------------------------------------------------------- processes


def status_kib(pid: int, field_name: str) -> int:
    path = "smaps_rollup" if field_name == "Pss" else "status"
    try:
        text = Path(f"/proc/{pid}/{path}").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class ProcMem:
    pid: int
    role: str
    rss_mib: float
    pss_mib: float


def tree_memory(pid: int) -> list[ProcMem]:
    """Each process of the tree: the main one first, then its children."""
    out = []
    for i, p in enumerate(tree(pid)):
        out.append(
            ProcMem(
                pid=p,
                role=_role(p, main=i == 0),
                rss_mib=status_kib(p, "VmRSS") / 1024,
                pss_mib=status_kib(p, "Pss") / 1024,
            )
        )
    # `sh -c "exec ..."` replaced itself; a wrapper shell would show as a 0 MiB main.
    return [m for m in out if m.rss_mib > 0]


def _role(pid: int, *, main: bool) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        cmdline = ""
    if "resource_tracker" in cmdline:
        return "child: multiprocessing's resource tracker"
    if main:
        return "main"
    if "spawn_main" in cmdline:
        return "child: a server process"
    if "--pool threads" in cmdline:
        return "child: a copy of the worker (WORKER_PROCESSES)"
    return "child: a pool process"


def tree_rss_mib(pid: int) -> float:
    return sum(status_kib(p, "VmRSS") for p in tree(pid)) / 1024


@dataclass
class Snapshot:
    processes: list[ProcMem]

    @property
    def rss_mib(self) -> float:
        return sum(p.rss_mib for p in self.processes)

    @property
    def pss_mib(self) -> float:
        return sum(p.pss_mib for p in self.processes)


@dataclass
class ProcessRun:
    kind: str  # web, worker, beat
    command: str
    at_start: Snapshot
    at_end: Snapshot = field(default_factory=lambda: Snapshot([]))
    peak_rss_mib: float = 0.0
    peak_redis: int = 0  # connections the tree held at once (sampled)
    peak_postgres: int = 0


@dataclass
class Formation:
    label: str
    env: dict[str, str]
    messages: int
    seconds: float
    runs: list[ProcessRun]


def _states() -> dict[str, int]:
    from sqlmodel import col, func, select

    from app.db import session_scope
    from app.db.models import Message

    with session_scope() as session:
        rows = session.exec(select(Message.state, func.count()).group_by(col(Message.state)))
        return {str(state): int(n) for state, n in rows}


def _settled() -> int:
    from sqlmodel import col, func, select

    from app.db import session_scope
    from app.db.models import Message

    with session_scope() as session:
        return int(session.exec(select(func.count()).where(col(Message.state).in_(SETTLED))).one())


def run_formation(
    label: str,
    *,
    env: dict[str, str],
    messages: int,
    kinds: Sequence[str],
    workdir: Path,
    report: Sequence[str] | None = None,
    timeout_s: float = 900.0,
) -> Formation:
    """Start `kinds` from the Procfile, post `messages` through web, wait until settled."""
    with (
        fresh_database() as url,
        keel_stack(latency_ms="0", workdir=workdir, database_url=url) as stack,
    ):
        use_env(stack.env)
        port = procs.free_port()
        env = {**env, "PORT": str(port)}
        release = stack.start_procfile("release", extra_env=env)
        if release.wait(timeout=120) != 0:
            raise RuntimeError("release (keel db upgrade) failed")
        # The worker is started first and is ready when start_procfile returns.
        started = {
            kind: stack.start_procfile(kind, extra_env=env)
            for kind in sorted(kinds, key=lambda k: k != "worker")
        }
        api = f"http://127.0.0.1:{port}"
        procs.wait_for_http(f"{api}/healthz", timeout_s=90)
        time.sleep(3.0)  # let start-up settle (web's processes, beat's first ticks)
        lines = procfile()
        runs = {
            kind: ProcessRun(kind, lines[kind], Snapshot(tree_memory(proc.pid)))
            for kind, proc in started.items()
        }
        ports = (
            urlsplit(REDIS_URL).port or 6379,
            urlsplit(stack.env["DATABASE_URL"]).port or 5432,
        )
        items = inbox_messages(messages, tag=f"mem-{label[:8]}")
        t0 = time.monotonic()
        with httpx.Client(
            base_url=api, headers={"Authorization": "Bearer bench"}, timeout=60
        ) as client:
            for start in range(0, len(items), 100):
                response = client.post(
                    "/v1/messages:batch", json={"messages": items[start : start + 100]}
                )
                response.raise_for_status()
                _sample(started, runs, ports)
        next_check = 0.0
        while True:
            _sample(started, runs, ports)
            now = time.monotonic()
            if now >= next_check:
                if _settled() >= messages:
                    break
                next_check = now + 1.0
            if now - t0 > timeout_s:
                raise TimeoutError(f"{label}: not settled in {timeout_s:.0f} s: {_states()}")
            time.sleep(0.25)
        seconds = time.monotonic() - t0
        for kind, proc in started.items():
            runs[kind].at_end = Snapshot(tree_memory(proc.pid))
    shown = [runs[k] for k in (report or kinds)]
    return Formation(label, env, messages, seconds, shown)


def _sample(
    started: dict[str, subprocess.Popen[bytes]],
    runs: dict[str, ProcessRun],
    ports: tuple[int, int],
) -> None:
    redis_port, postgres_port = ports
    for kind, proc in started.items():
        run = runs[kind]
        run.peak_rss_mib = max(run.peak_rss_mib, tree_rss_mib(proc.pid))
        held = peer_ports(proc.pid)
        run.peak_redis = max(run.peak_redis, held[redis_port])
        run.peak_postgres = max(run.peak_postgres, held[postgres_port])


# --------------------------------------------------------------------------- report


def section(
    costs: list[Cost], entries: list[Cost], formations: list[Formation], *, load_before: str
) -> list[str]:
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.memory` "
        f"(`make bench` runs it); {load_before} before, {_load()} after (other work shares "
        "the machine; memory figures hardly depend on it).",
        "",
        "**Per library**: what one import adds to a fresh interpreter (VmRSS, median of "
        "3), alone. Shared dependencies (pydantic, httpx, anyio) count in every row "
        "that loads them, so rows do not add up.",
        "",
        "| library | MiB | seconds |",
        "|---|---:|---:|",
        *(f"| {c.label} | {c.mib:.1f} | {c.seconds:.2f} |" for c in costs),
        "",
        "**What each entry point loads at start** (fresh interpreter):",
        "",
        "| process | MiB | seconds | heavy libraries loaded |",
        "|---|---:|---:|---|",
        *(
            f"| {c.label} | {c.mib:.1f} | {c.seconds:.2f} | "
            f"{', '.join(c.heavy) or 'none of ' + ', '.join(HEAVY)} |"
            for c in entries
        ),
        "",
    ]
    for f in formations:
        lines += [
            f"**{f.label}**: {f.messages} messages posted through web at zero model "
            f"latency, all settled in {f.seconds:.0f} s ({f.messages / f.seconds:.0f} "
            "messages/s). MiB per process; PSS counts the pages forked processes share "
            "once, as a dyno's memory does:",
            "",
            "| process | which | RSS at start | PSS at start | RSS at end | PSS at end |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for run in f.runs:
            ends = {p.pid: p for p in run.at_end.processes}
            for p in run.at_start.processes:
                e = ends.get(p.pid)
                lines.append(
                    f"| {run.kind} | {p.role} | {p.rss_mib:.0f} | {p.pss_mib:.0f} | "
                    f"{e.rss_mib if e else 0:.0f} | {e.pss_mib if e else 0:.0f} |"
                )
            lines.append(
                f"| **{run.kind} total** | {len(run.at_start.processes)} processes | "
                f"**{run.at_start.rss_mib:.0f}** | **{run.at_start.pss_mib:.0f}** | "
                f"**{run.at_end.rss_mib:.0f}** (peak {run.peak_rss_mib:.0f}) | "
                f"**{run.at_end.pss_mib:.0f}** |"
            )
        lines += [
            "",
            "Most connections each held at once: "
            + "; ".join(
                f"{run.kind} {run.peak_redis} to Redis, {run.peak_postgres} to Postgres"
                for run in f.runs
            )
            + ".",
            "",
        ]
    return lines


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def write(lines: list[str]) -> None:
    text = REPORT.read_text("utf-8")
    body = "\n".join([START, *lines]).rstrip() + "\n" + END
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Worker memory\n\n" + body + "\n"
    REPORT.write_text(text, "utf-8")


@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="keel-memory-") as tmp:
        yield Path(tmp)


def _parse_env(values: Sequence[str]) -> dict[str, str]:
    return dict(v.split("=", 1) for v in values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3, help="fresh interpreters per library")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="VAR=VALUE[,VAR=VALUE]",
        help="another worker-only run with these variables (repeatable)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    load_before = _load()
    print(load_before, flush=True)
    costs = [import_cost(*lib, rounds=args.rounds) for lib in LIBRARIES]
    entries = [import_cost(label, "", stmt, rounds=args.rounds) for label, stmt in ENTRY_POINTS]
    formations: list[Formation] = []
    everything = ("web", "worker", "beat")
    measure: list[tuple[str, dict[str, str], Sequence[str], Sequence[str]]] = [
        ("The Procfile's web, worker and beat at their defaults", {}, everything, everything),
        *(
            (
                f"The Procfile's worker with {v.replace(',', ' ')}",
                _parse_env(v.split(",")),
                ("web", "worker"),
                ("worker",),
            )
            for v in args.variant
        ),
    ]
    for label, env, kinds, report in measure:
        with _workdir() as workdir:
            formations.append(
                run_formation(
                    label,
                    env=env,
                    messages=args.messages,
                    kinds=kinds,
                    workdir=workdir,
                    report=report,
                )
            )
    lines = section(costs, entries, formations, load_before=load_before)
    print("\n".join(lines))
    if not args.no_write:
        write(lines)


if __name__ == "__main__":
    main()
