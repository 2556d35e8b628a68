"""A whole Keel deployment on private servers for one fault test: Postgres, Redis, the
provider simulator, a webhook receiver, and workers, beat and the API as real processes
that the test can start, kill and restart."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col, func, select

from app.broker import ALL_QUEUES
from app.db import session_scope
from app.db.models import AuditEvent, Message
from app.demo import procs
from app.demo.receiver import WebhookReceiver
from app.demo.run import inbox_messages as demo_inbox_messages
from app.policy import load_policy
from app.state import get_redis, keys
from tests.chaos.servers import PrivatePostgres, PrivateRedis
from tests.helpers import API_KEY

# Not settled yet: still to be worked on, waiting in the parking lot or for its send time.
UNSETTLED_STATES = ("received", "classified", "drafted", "parked", "scheduled")
SETTLED_STATES = frozenset({"sent", "no_reply", "rejected", "dead", "escalated"})
POST_BATCH = 50


def inbox_messages(count: int, *, tag: str) -> list[dict[str, Any]]:
    """`count` realistic messages from the sample inbox, repeated with new external ids."""
    return [dict(item) for item in demo_inbox_messages(count, tag=tag)]


def set_policy_values(path: Path, **values: float | int | str) -> None:
    """Rewrite `name = value` lines of a policy file (each name must occur exactly once)."""
    text = path.read_text("utf-8")
    for name, value in values.items():
        pattern = re.compile(rf"^{re.escape(name)} = .*$", re.MULTILINE)
        assert len(pattern.findall(text)) == 1, f"{name} must occur once in the policy"
        literal = f'"{value}"' if isinstance(value, str) else repr(value)
        text = pattern.sub(f"{name} = {literal}", text)
    path.write_text(text, "utf-8")


@dataclass
class ChaosStack:
    """Everything one fault test runs on. Children get `env`; the test process is pointed
    at the same Postgres, Redis and namespace by the fixture."""

    workdir: Path
    group: procs.Processes
    redis: PrivateRedis
    postgres: PrivatePostgres
    database_url: str
    namespace: str
    sim_url: str
    receiver: WebhookReceiver
    policy_path: Path
    env: dict[str, str]
    api_url: str | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _names: Counter[str] = field(default_factory=Counter)

    def set_policy(self, **values: float | int | str) -> None:
        """Change policy values; call before starting the processes that read it."""
        set_policy_values(self.policy_path, **values)
        load_policy.cache_clear()

    # ------------------------------------------------------------------ processes

    def _name(self, kind: str) -> str:
        self._names[kind] += 1
        return f"{kind}{self._names[kind]}"

    def child_env(self, **overrides: str) -> dict[str, str]:
        return {**self.env, **overrides}

    def start_worker(
        self,
        *,
        concurrency: int = 4,
        env: Mapping[str, str] | None = None,
        pool: str = "prefork",
    ) -> subprocess.Popen[bytes]:
        """A worker on every Keel queue (prefork unless `pool` says otherwise), started as
        the Procfile does (REMAP_SIGTERM=SIGQUIT); its children share its process group."""
        name = self._name("worker")
        argv = procs.worker_argv(concurrency=concurrency, name=name, pool=pool)
        proc = self.group.start(name, argv, self.child_env(**(env or {})))
        self.workers.append(proc)
        return proc

    def kill_worker(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker's whole process group: the main process and every child."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def worker_children(self, proc: subprocess.Popen[bytes]) -> list[int]:
        """Pool process ids of a prefork worker."""
        found = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def start_beat(self) -> subprocess.Popen[bytes]:
        name = self._name("beat")
        return self.group.start(name, procs.beat_argv(self.workdir / f"{name}-schedule"), self.env)

    def start_api(self) -> str:
        port = procs.free_port()
        argv = procs.python_argv(
            "-m", "uvicorn", "app.api:app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        )  # fmt: skip
        self.group.start(self._name("api"), argv, self.env)
        self.api_url = f"http://127.0.0.1:{port}"
        procs.wait_for_http(f"{self.api_url}/healthz", timeout_s=60)
        return self.api_url

    def kill_all_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                self.kill_worker(proc)

    # ------------------------------------------------------------------ simulator

    def sim(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.sim_url}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def add_rule(self, rule: dict[str, Any], *, first: bool = False) -> None:
        self.sim("POST", "/_sim/rules?first=1" if first else "/_sim/rules", rule)

    def outage(self, provider: str, *, seconds: float, status: int = 503) -> None:
        self.sim(
            "POST", "/_sim/outage", {"provider": provider, "status": status, "seconds": seconds}
        )

    def sim_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.sim("GET", "/_sim/stats")
        return stats

    # ------------------------------------------------------------------ ingress

    def post_messages(self, items: Sequence[dict[str, Any]]) -> list[str]:
        """Post messages over HTTP in batches; the accepted ids, in order."""
        assert self.api_url is not None, "start_api() first"
        ids: list[str] = []
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=60) as client:
            for start in range(0, len(items), POST_BATCH):
                chunk = list(items[start : start + POST_BATCH])
                response = client.post("/v1/messages:batch", json={"messages": chunk})
                assert response.status_code == 202, response.text
                results = response.json()["results"]
                assert not any(r["duplicate"] for r in results)
                ids.extend(r["id"] for r in results)
        return ids

    # ------------------------------------------------------------------ observing

    def states(self) -> Counter[str]:
        with session_scope() as session:
            rows = session.exec(
                select(Message.state, func.count()).group_by(col(Message.state))
            ).all()
        return Counter({state: int(n) for state, n in rows})

    def settle(self, timeout_s: float, *, poll_s: float = 0.5) -> Counter[str]:
        """Wait until no message is still to be worked on (or the timeout); the counts by
        state. A database that does not answer for a while is waited for, too."""
        deadline = time.monotonic() + timeout_s
        counts: Counter[str] = Counter()
        while True:
            try:
                counts = self.states()
            except sa.exc.OperationalError:
                counts = Counter({"<database down>": 1})
            if not any(counts[s] for s in (*UNSETTLED_STATES, "<database down>")):
                return counts
            if time.monotonic() > deadline:
                return counts
            time.sleep(poll_s)

    def wait_until(self, condition: Any, timeout_s: float, *, poll_s: float = 0.2) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(poll_s)
        return bool(condition())

    def count_settled(self) -> int:
        counts = self.states()
        return sum(n for state, n in counts.items() if state in SETTLED_STATES)

    def events(self, action: str, *, message_ids: Iterable[str] | None = None) -> list[AuditEvent]:
        with session_scope() as session:
            query = select(AuditEvent).where(AuditEvent.action == action)
            if message_ids is not None:
                query = query.where(col(AuditEvent.message_id).in_(list(message_ids)))
            return list(session.exec(query.order_by(col(AuditEvent.id))).all())

    def crash_counters(self) -> dict[tuple[str, str], int]:
        """Unfinished task starts by (message id, step): tasks running now or killed."""
        r = get_redis()
        found: dict[tuple[str, str], int] = {}
        for key in r.scan_iter(match=keys().crashes("*", "*"), count=1000):
            _, message_id, step = key.decode().rsplit(":", 2)
            value = r.get(key)
            if value is not None and int(value) > 0:
                found[(message_id, step)] = int(value)
        return found

    def crash_count(self, message_id: str, step: str) -> int:
        """Starts of `step` for one message that have not finished (yet)."""
        value = get_redis().get(keys().crashes(message_id, step))
        return int(value) if value is not None else 0

    def pool_process_running(self, message_id: str) -> int | None:
        """The pid of the pool process running a task for `message_id`, asked of the
        workers over Celery's remote control (`inspect active`)."""
        from tasks import app as celery_app

        replies = celery_app.control.inspect(timeout=1.0).active() or {}
        for tasks in replies.values():
            for task in tasks:
                if message_id in str(task.get("args")) and task.get("worker_pid"):
                    return int(task["worker_pid"])
        return None

    def queued_message_ids(self, queue: str) -> list[str]:
        """Message ids waiting on one queue (Redis carries ids only)."""
        ids = []
        for raw in get_redis().lrange(keys().queue(queue), 0, -1):
            body = json.loads(base64.b64decode(json.loads(raw)["body"]))
            ids.append(str(body[0][0]))
        return ids

    def queue_lengths(self) -> dict[str, int]:
        r = get_redis()
        return {q: int(r.llen(keys().queue(q))) for q in ALL_QUEUES}

    def logs_with_tracebacks(self) -> str:
        out = []
        for log in sorted(self.workdir.glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                out.append(f"--- {log.name} ---\n{text[-3000:]}")
        return "\n".join(out)


def describe_stuck(stack: ChaosStack, *, limit: int = 5) -> str:
    """Why messages are not settled: state, step, age, Redis marker and counters, timeline."""
    from app.audit import timeline

    r, k = get_redis(), keys()
    lines = []
    with session_scope() as session:
        stuck = session.exec(
            select(Message).where(col(Message.state).in_(UNSETTLED_STATES)).limit(limit)
        ).all()
        for m in stuck:
            actions = [f"{e.action}/{e.step}" for e in timeline(session, m.id)]
            counters = {s: r.get(k.crashes(m.id, s)) for s in ("ingest", "classify", "draft")}
            lines.append(
                f"{m.id} state={m.state} next={m.next_step} v={m.version} "
                f"updated={m.updated_at.isoformat()} marker={r.exists(k.queued_marker(m.id))} "
                f"ttl={r.ttl(k.queued_marker(m.id))} crashes={counters} timeline={actions}"
            )
    unacked = r.hlen(f"{k.namespace}:unacked")
    lines.append(f"queues={stack.queue_lengths()} unacked={unacked}")
    lines.append(process_log_tails(stack))
    return "\n".join(lines)


def process_log_tails(stack: ChaosStack, *, lines: int = 25) -> str:
    """The last warnings and errors of every process the test started, and whether each
    is still running: what a stuck run's worker was doing when the test gave up."""
    out = []
    for proc in stack.workers:
        out.append(f"worker pid={proc.pid} returncode={proc.poll()}")
    for log in sorted(stack.workdir.glob("*.log")):
        notable = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if '"level": "info"' not in line and '"level": "debug"' not in line
        ]
        if notable:
            out.append(f"--- {log.name} (last {lines} non-info lines) ---")
            out.extend(
                line if '"level": "critical"' in line else line[:400] for line in notable[-lines:]
            )
    return "\n".join(out)
