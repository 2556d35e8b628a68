"""Starting what a benchmark needs: a fresh Postgres database, a Redis namespace, the
simulator, a webhook receiver and worker processes; measuring their CPU and memory."""

from __future__ import annotations

import collections
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.demo import procs
from app.demo.receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    out = [pid]
    children = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    for child in children:
        out.extend(tree(int(child)))
    return out


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process tree (live processes only)."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    """Resident memory of a process tree, in MiB."""
    total_kb = 0
    for p in tree(pid):
        try:
            match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        if match:
            total_kb += int(match.group(1))
    return total_kb / 1024


def pss_mb(pid: int) -> float:
    """Proportional memory of a process tree, in MiB: each page shared by n processes
    counts 1/n in each, so forked copies' shared pages count once in the sum, as a
    dyno's memory (its cgroup) counts them."""
    total_kb = 0
    for p in tree(pid):
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+)", text, re.MULTILINE)
        if match:
            total_kb += int(match.group(1))
    return total_kb / 1024


def peer_ports(pid: int) -> collections.Counter[int]:
    """Established TCP connections of a process tree, by the remote port (from /proc)."""
    inodes: set[str] = set()
    for p in tree(pid):
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    ports: collections.Counter[int] = collections.Counter()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                ports[int(fields[2].rsplit(":", 1)[1], 16)] += 1
    return ports


def machine_busy_s() -> float:
    """CPU seconds every process on the machine has used so far (all cores: user,
    nice, system, irq, softirq, steal), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"keel_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass
class Stack:
    env: dict[str, str]
    group: procs.Processes
    receiver: WebhookReceiver
    sim_url: str
    workdir: Path

    def start_worker(
        self, *, app: str = "tasks", queues: str | None = None, pool: str, concurrency: int,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:  # fmt: skip
        from app.broker import ALL_QUEUES

        argv = procs.python_argv(
            "-m", "celery", "-A", app, "worker", "-Q", queues or ",".join(ALL_QUEUES),
            "-P", pool, "-c", str(concurrency), "-n", f"bench-{secrets.token_hex(3)}@%h",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        )  # fmt: skip
        # A log of its own: logs append, and an earlier run's " ready." must not count.
        name = f"worker-{secrets.token_hex(3)}"
        env = {**os.environ, **self.env, **(extra_env or {})}
        proc = self.group.start(name, argv, env)
        self.wait_for_log(name, " ready.", proc)
        return proc

    def start_procfile(
        self, kind: str, *, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Run the Procfile's own line for `kind` as a dyno does: through a shell that
        expands its `${VAR:-default}`s, in an empty directory (beat's schedule file lands
        there), the project on the import path; a worker is returned once it is ready."""
        name = f"{kind}-{secrets.token_hex(3)}"
        cwd = self.workdir / f"{name}-cwd"
        cwd.mkdir()
        env = {
            **os.environ,
            **self.env,
            **(extra_env or {}),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
        }
        argv = ["/bin/sh", "-c", f'cd "$0" && exec env {procfile()[kind]}', str(cwd)]
        proc = self.group.start(name, argv, env)
        if kind == "worker":
            self.wait_for_log(name, " ready.", proc)
        return proc

    def wait_for_log(
        self, name: str, marker: str, proc: subprocess.Popen[bytes], *, timeout_s: float = 90
    ) -> None:
        log = self.workdir / f"{name}.log"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if marker in log.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{name}: no {marker!r} in {timeout_s:.0f} s")


def procfile() -> dict[str, str]:
    """The Procfile's process types and their command lines."""
    lines = (ROOT / "Procfile").read_text("utf-8").splitlines()
    found = (line.partition(":") for line in lines if line.strip() and line[0] != "#")
    return {name.strip(): command.strip() for name, _, command in found}


def procfile_worker_pool(env: dict[str, str] | None = None) -> tuple[str, int]:
    """The pool and concurrency the Procfile's worker runs with, its `${VAR:-default}`s
    expanded from `env` (default: none set, the defaults)."""
    line = _worker_line(env)
    pool = re.search(r"--pool[ =](\S+)", line)
    concurrency = re.search(r"--concurrency[ =](\d+)", line)
    if pool is None or concurrency is None:
        raise ValueError(f"the Procfile's worker names no --pool and --concurrency: {line}")
    return pool.group(1), int(concurrency.group(1))


def procfile_worker_processes(env: dict[str, str] | None = None) -> int:
    """WORKER_PROCESSES as the Procfile's worker line sets it (1 if it does not)."""
    found = re.search(r"WORKER_PROCESSES=(\d+)", _worker_line(env))
    return int(found.group(1)) if found else 1


def _worker_line(env: dict[str, str] | None) -> str:
    """The Procfile's worker line, its `${VAR:-default}`s expanded from `env`."""
    values = env or {}
    return re.sub(
        r"\$\{(\w+):-([^}]*)\}",
        lambda m: values.get(m.group(1)) or m.group(2),
        procfile()["worker"],
    )


@contextmanager
def keel_stack(*, latency_ms: str, workdir: Path, database_url: str) -> Iterator[Stack]:
    """Environment for Keel in this process and its children, the simulator and a receiver."""
    group = procs.Processes(workdir)
    receiver = WebhookReceiver(secret="bench-secret").start()
    sim_port = procs.free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = {
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": database_url,
        "KEEL_NAMESPACE": f"keel-bench-{secrets.token_hex(4)}",
        "KEEL_API_KEYS": "bench",
        "KEEL_WEBHOOK_URL": receiver.url,
        "KEEL_WEBHOOK_SECRET": receiver.secret,
        "ANTHROPIC_API_KEY": "sim",
        "ANTHROPIC_BASE_URL": f"{sim_url}/anthropic",
        "OPENAI_API_KEY": "sim",
        "OPENAI_BASE_URL": f"{sim_url}/openai/v1",
        "KEEL_POLICY": str(workdir / "policy.toml"),
    }
    from app.policy import BUNDLED_POLICY_PATH

    # Send window always open; no burst quiet period: conversations stay on (the upsert
    # at intake, the gates, the delivery lease, the history reads), but a message is
    # classified as soon as it is ingested, so throughput measures work, not a timer.
    policy = (
        BUNDLED_POLICY_PATH.read_text("utf-8")
        .replace('start = "08:00"\nend = "21:00"', 'start = "00:00"\nend = "00:00"')
        .replace("coalesce_s = 8\n", "coalesce_s = 0\n")
    )
    (workdir / "policy.toml").write_text(policy, "utf-8")
    try:
        group.start(
            "simulator",
            procs.python_argv(
                "-m", "app.simulator", "--port", str(sim_port), "--latency-ms", latency_ms
            ),
            {**os.environ, **env},
        )
        procs.wait_for_http(f"{sim_url}/_sim/health")
        yield Stack(env=env, group=group, receiver=receiver, sim_url=sim_url, workdir=workdir)
    finally:
        group.stop_all()
        receiver.stop()
