"""The Procfile against services shaped as Heroku hands them over (SPEC 14): its own
`release`, `web`, `worker` and `beat` command lines, run by `sh -c` as a Procfile host
runs them, against a TLS-only Redis with a self-signed certificate and a password
(`rediss://:pw@host:port`, KEEL_REDIS_TLS_VERIFY=none), `postgres://` URLs with two
roles (the release migrates as the owner, the processes run as KEEL_APP_DATABASE_URL's
lesser role) and the provider simulator. 100 messages posted over HTTP all settle."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from app.config import reset_settings
from app.db import reset_engines, session_scope
from app.db.models import MessageState
from app.demo.procs import free_port
from tests.deploy.pg_roles import AppRole, heroku_url, psycopg_dsn
from tests.helpers import API_KEY
from tests.tls_redis import TlsRedis

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 100
SETTLED = (*sorted(s.value for s in MessageState if s.is_terminal), MessageState.escalated.value)
START_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 10.0

# Customer messages in the three languages, each posted by contacts of their own.
TEXTS = (
    "Hola, ¿cuánto cuesta el curso intensivo de inglés?",
    "¿A qué hora empiezan las clases de la tarde?",
    "quiero apuntarme al curso de inglés para negocios, ¿cómo pago?",
    "quanto custa o curso intensivo de inglês?",
    "quando começa a próxima turma de inglês para negócios?",
    "obrigada pela ajuda!",
    "How much is the intensive English course?",
    "What time do the evening classes start?",
    "Group got cancelled, want the enrolment fee back pls",
    "thanks, that's all I needed",
)
CHANNELS = ("whatsapp", "email", "sms", "web")
TIMEZONES = ("Europe/Madrid", "America/Sao_Paulo", "Europe/Dublin", "America/Mexico_City")

T = TypeVar("T")


def procfile() -> dict[str, str]:
    """Process name -> command line, read from the Procfile now (it may change)."""
    processes: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


def wait_until(condition: Callable[[], T | None], *, timeout_s: float, what: str) -> T:
    """The first truthy value of `condition`, polled until the deadline.

    Raises:
        TimeoutError: naming `what`, with the last value seen.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.25)
    raise TimeoutError(f"{what}: not within {timeout_s} s (last: {last!r})")


@dataclass
class Dyno:
    """One Procfile process, run as `sh -c COMMAND` in a process group of its own."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text("utf-8", errors="replace")[-chars:]


class Formation:
    """The dynos started from the Procfile, and the one way to stop every one of them."""

    def __init__(self, *, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.commands = procfile()
        self.dynos: list[Dyno] = []

    def run(self, name: str, *, timeout_s: float) -> subprocess.CompletedProcess[str]:
        """A one-off process (the release phase): run to its end."""
        return subprocess.run(
            ["sh", "-c", self.commands[name]],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def start(self, name: str) -> Dyno:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["sh", "-c", self.commands[name]],
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as one
            )
        dyno = Dyno(name=name, proc=proc, log=log)
        self.dynos.append(dyno)
        return dyno

    def stop_all(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left at the deadline."""
        for dyno in self.dynos:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(dyno.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for dyno in self.dynos:
            with contextlib.suppress(subprocess.TimeoutExpired):
                dyno.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            # the group may outlive its leader (the worker's children): kill it whole
            with contextlib.suppress(ProcessLookupError):
                os.killpg(dyno.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                dyno.proc.wait(timeout=5)


def messages() -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"procfile-{i:03d}",
            "channel": CHANNELS[i % len(CHANNELS)],
            "contact": {"id": f"c-procfile-{i:03d}", "timezone": TIMEZONES[i % len(TIMEZONES)]},
            "text": TEXTS[i % len(TEXTS)],
        }
        for i in range(MESSAGES)
    ]


def states() -> dict[str, int]:
    with session_scope() as session:
        rows = session.execute(sa.text("SELECT state, count(*) FROM messages GROUP BY state"))
        return {str(state): int(n) for state, n in rows}


def database_users(pg_url: str) -> set[str]:
    """Who is connected to the test database now, apart from this query itself."""
    with psycopg.connect(psycopg_dsn(pg_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {str(row[0]) for row in rows}


@pytest.fixture
def formation(
    monkeypatch: pytest.MonkeyPatch,
    keel_env: dict[str, str],
    simulator: str,
    open_window_policy: str,
    tls_redis: TlsRedis,
    pg_url: str,
    app_role: AppRole,
    tmp_path: Path,
) -> Iterator[Formation]:
    """Config vars as Heroku sets them; the dynos are stopped whatever happens."""
    venv_bin = str(Path(sys.executable).parent)
    config_vars = {
        "REDIS_URL": tls_redis.url,
        "KEEL_REDIS_TLS_VERIFY": "none",
        "DATABASE_URL": heroku_url(pg_url),
        "KEEL_APP_DATABASE_URL": app_role.url,
        "PORT": str(free_port()),
    }
    env = {
        **os.environ,
        **keel_env,
        **config_vars,
        # `celery`, `uvicorn` and `keel` from this venv; the repo on the path, since the
        # dynos run in a scratch folder (beat writes its schedule file where it runs)
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    # This process reads the database as the dynos do: as the app role.
    monkeypatch.setenv("KEEL_APP_DATABASE_URL", app_role.url)
    reset_settings()
    reset_engines()
    workdir = tmp_path / "dyno"
    workdir.mkdir()
    group = Formation(env=env, workdir=workdir)
    try:
        yield group
    finally:
        group.stop_all()
        for dyno in group.dynos:
            text = dyno.log.read_text("utf-8", errors="replace")
            if "Traceback" in text or "ERROR" in text:
                print(f"--- {dyno.name} ---\n{text[-4000:]}")


@pytest.mark.slow
def test_the_procfile_runs_against_heroku_shaped_services_and_settles_every_message(
    formation: Formation, app_role: AppRole, pg_url: str
) -> None:
    # Given the release phase, run from the Procfile as the owner
    release = formation.run("release", timeout_s=180)
    assert release.returncode == 0, release.stdout + release.stderr
    assert app_role.name in release.stdout  # it granted the app role

    # When web, worker and beat start from their Procfile lines
    dynos = {name: formation.start(name) for name in ("web", "worker", "beat")}
    base = f"http://127.0.0.1:{formation.env['PORT']}"

    def ready() -> httpx.Response | None:
        assert all(d.alive() for d in dynos.values()), {n: d.tail() for n, d in dynos.items()}
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{base}/readyz", timeout=2)
            return response if response.status_code == 200 else None
        return None

    readyz = wait_until(ready, timeout_s=START_TIMEOUT_S, what="/readyz answering 200")
    assert readyz.json()["checks"] == {"database": "ok", "redis": "ok"}

    # And 100 messages are posted over HTTP: half one by one, half in batches
    inbox = messages()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for item in inbox[: MESSAGES // 2]:
            response = client.post("/v1/messages", json=item)
            assert response.status_code == 202, response.text
        for start in range(MESSAGES // 2, MESSAGES, 25):
            response = client.post("/v1/messages:batch", json=inbox[start : start + 25])
            assert response.status_code == 202, response.text

    # Then every one settles (terminal or escalated), carried by the worker over TLS
    def all_settled() -> dict[str, int] | None:
        assert all(d.alive() for d in dynos.values()), {n: d.tail() for n, d in dynos.items()}
        now = states()
        settled = sum(n for state, n in now.items() if state in SETTLED)
        return now if sum(now.values()) == MESSAGES and settled == MESSAGES else None

    final = wait_until(all_settled, timeout_s=SETTLE_TIMEOUT_S, what="every message settled")
    assert final.get("sent", 0) > MESSAGES // 2, final
    # And beat is sending its entries through the same TLS broker
    wait_until(
        lambda: "Sending due task" in dynos["beat"].log.read_text("utf-8", errors="replace"),
        timeout_s=30,
        what="beat sending due tasks",
    )
    # And every process connected to Postgres as the app role, none as the owner
    assert database_users(pg_url) == {app_role.name}
    # And the web process is still ready after the load
    assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    assert all(d.alive() for d in dynos.values())
    print({"states": final})
