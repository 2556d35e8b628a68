"""The demo: real processes on embedded defaults, the sample inbox and the conversation
threads, an outage, a summary."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.progress import Progress
from sqlmodel import Session, col, func, select

from app.config import reset_settings
from app.console import console
from app.db import reset_engines, session_scope
from app.db.migrate import upgrade
from app.db.models import AuditEvent, Message
from app.demo import procs
from app.demo.receiver import WebhookReceiver
from app.demo.replay import as_of_now
from app.demo.report import print_summary
from app.demo.threads import REVIEWER, Pace, Played, ThreadPlayer, load_threads
from app.policy import BUNDLED_POLICY_PATH, get_policy
from app.providers import reset_clients

INBOX = Path(__file__).with_name("data") / "inbox.jsonl"
PENDING_STATES = ("received", "classified", "drafted", "parked")
BATCH = 50
# The thread whose conversation the summary shows: a follow-up answered in its context.
SHOWN_KIND = "follow_up"


@dataclass
class DemoOptions:
    limit: int | None = None
    outage_s: float = 8.0
    all_down_s: float = 5.0
    timeout_s: float = 150.0
    latency_ms: str = "20:120"
    keep: bool = False
    concurrency: int = 4
    send_window: bool = False
    threads: bool = True
    thread_pace: float = 0.5  # the threads' written delays times this


def load_inbox(limit: int | None = None) -> list[dict[str, object]]:
    """The sample inbox, its `received_at` times replayed as the last two hours."""
    lines = [json.loads(line) for line in INBOX.read_text("utf-8").splitlines() if line.strip()]
    return as_of_now(lines[:limit] if limit else lines, now=dt.datetime.now(dt.UTC))


def inbox_messages(count: int, *, tag: str) -> list[dict[str, object]]:
    """`count` messages of the sample inbox, cycled, each with a new external id."""
    base = load_inbox()
    items = []
    for i in range(count):
        item = dict(base[i % len(base)])
        item["external_id"] = f"{tag}-{i}-{item['external_id']}"[:200]
        items.append(item)
    return items


def _sample(session: Session) -> str | None:
    """The message whose trace the summary shows: the first sent that failed over, else
    the first sent."""
    sent = select(Message.id).where(Message.state == "sent").order_by(col(Message.created_at))
    failed_over = sent.where(
        col(Message.id).in_(select(AuditEvent.message_id).where(AuditEvent.action == "failover"))
    )
    return session.exec(failed_over).first() or session.exec(sent).first()


def _shown(played: list[Played]) -> tuple[str, str] | None:
    """The conversation the summary shows: a follow-up that converted, else any."""
    ok = [p for p in played if p.error is None and p.message_ids]
    for candidate in (
        [p for p in ok if p.kind == SHOWN_KIND and p.outcome_id],
        [p for p in ok if p.kind == SHOWN_KIND],
        ok,
    ):
        if candidate:
            return candidate[0].channel, candidate[0].conversation
    return None


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_settings()
    reset_engines()
    reset_clients()
    _refresh_broker()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()
        reset_engines()
        reset_clients()


class _Faults:
    """Takes the primary provider down a second after the first messages have waited out
    their burst quiet period (`coalesce_s`: no model is called before), then every
    provider."""

    AFTER_QUIET_S = 1.0

    def __init__(self, *, sim: str, options: DemoOptions, started: float, quiet_s: float) -> None:
        self.sim = sim
        self.options = options
        self.started = started
        self.primary_at_s = quiet_s + self.AFTER_QUIET_S
        self.primary_done = options.outage_s <= 0
        self.all_done = options.all_down_s <= 0

    def _down(self, provider: str, seconds: float) -> None:
        httpx.post(
            f"{self.sim}/_sim/outage",
            json={"provider": provider, "status": 503, "seconds": seconds},
        ).raise_for_status()

    def tick(self) -> None:
        elapsed = time.monotonic() - self.started
        if not self.primary_done and elapsed >= self.primary_at_s:
            self._down("anthropic", self.options.outage_s)
            console.print(
                f"[yellow]anthropic is down for {self.options.outage_s:.0f} s "
                "(503 to every call): work fails over to openai[/]"
            )
            self.primary_done = True
        all_at = self.primary_at_s + self.options.outage_s + 2
        if not self.all_done and elapsed >= all_at:
            for provider in ("anthropic", "openai"):
                self._down(provider, self.options.all_down_s)
            console.print(
                f"[red]every provider is down for {self.options.all_down_s:.0f} s: "
                "messages park, then drain by themselves[/]"
            )
            self.all_done = True


def _open_window_policy(workdir: Path) -> Path:
    """The bundled policy with the send window always open, so the demo's replies go out
    now whatever the hour; `keel demo --send-window` keeps the real window."""
    text = BUNDLED_POLICY_PATH.read_text("utf-8")
    text = text.replace('start = "08:00"\nend = "21:00"', 'start = "00:00"\nend = "00:00"')
    path = workdir / "policy.toml"
    path.write_text(text, "utf-8")
    return path


def _refresh_broker() -> None:
    from app.broker import refresh_broker

    refresh_broker()


def _pending(session_count_states: tuple[str, ...]) -> int:
    with session_scope() as session:
        return int(
            session.exec(
                select(func.count()).where(col(Message.state).in_(session_count_states))
            ).one()
        )


@dataclass(frozen=True)
class _Keys:
    """The demo's own keys: an ingest key for the inbox, a reviewer key for its person."""

    api: str
    reviewer: str


def run_demo(options: DemoOptions) -> bool:
    """Run the whole demo; True when every message settled before the timeout."""
    workdir = Path(tempfile.mkdtemp(prefix="keel-demo-"))
    group = procs.Processes(workdir)
    receiver = WebhookReceiver(secret=secrets.token_hex(16)).start()
    started = time.monotonic()
    try:
        redis_url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
        if procs.redis_answers(redis_url):
            console.print(f"[dim]Redis: using {redis_url.split('@')[-1]}[/]")
        else:
            redis_url = procs.start_private_redis(group, data_dir=workdir)
            console.print(f"[dim]Redis: started a private redis-server at {redis_url}[/]")
        sim_port, api_port = procs.free_port(), procs.free_port()
        api_key, reviewer_key = secrets.token_hex(16), secrets.token_hex(16)
        sim = f"http://127.0.0.1:{sim_port}"
        env = {
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{workdir / 'keel.db'}",
            "KEEL_NAMESPACE": f"keel-demo-{secrets.token_hex(4)}",
            "KEEL_API_KEYS": api_key,
            "KEEL_REVIEWER_KEYS": f"{REVIEWER}:{reviewer_key}",
            "KEEL_WEBHOOK_URL": receiver.url,
            "KEEL_WEBHOOK_SECRET": receiver.secret,
            "ANTHROPIC_API_KEY": "sim-key",
            "ANTHROPIC_BASE_URL": f"{sim}/anthropic",
            "OPENAI_API_KEY": "sim-key",
            "OPENAI_BASE_URL": f"{sim}/openai/v1",
            "KEEL_MODEL_TIMEOUT_S": "5",
        }
        if not options.send_window:
            env["KEEL_POLICY"] = str(_open_window_policy(workdir))
        with _environment(env):
            keys = _Keys(api=api_key, reviewer=reviewer_key)
            return _run(options, group, receiver, env, sim, api_port, keys, workdir, started)
    finally:
        group.stop_all()
        receiver.stop()
        if options.keep:
            console.print(f"[dim]kept {workdir}[/]")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(
    options: DemoOptions,
    group: procs.Processes,
    receiver: WebhookReceiver,
    env: dict[str, str],
    sim: str,
    api_port: int,
    keys: _Keys,
    workdir: Path,
    started: float,
) -> bool:
    child_env = {**os.environ, **env}
    upgrade()
    sim_port = sim.rsplit(":", 1)[1]
    group.start(
        "simulator",
        procs.python_argv(
            "-m", "app.simulator", "--port", sim_port, "--latency-ms", options.latency_ms
        ),
        child_env,
    )
    group.start(
        "worker", procs.worker_argv(concurrency=options.concurrency, name="demo"), child_env
    )
    group.start("beat", procs.beat_argv(workdir / "beat-schedule"), child_env)
    group.start(
        "api",
        procs.python_argv(
            "-m", "uvicorn", "app.api:app", "--host", "127.0.0.1", "--port", str(api_port),
            "--log-level", "warning", "--no-access-log",
        ),
        child_env,
    )  # fmt: skip
    api = f"http://127.0.0.1:{api_port}"
    procs.wait_for_http(f"{sim}/_sim/health")
    procs.wait_for_http(f"{api}/healthz")
    inbox = load_inbox(options.limit)
    threads = load_threads() if options.threads else []
    console.print(
        f"[bold]Keel demo[/]: {len(inbox)} messages and {len(threads)} conversation threads, "
        f"worker x{options.concurrency}, simulator latency {options.latency_ms} ms, "
        f"webhook {receiver.url}"
    )
    headers = {"Authorization": f"Bearer {keys.api}"}
    fed_at = time.monotonic()
    # The faults follow the clock, not the feed: posting takes a second, processing longer.
    quiet_s = get_policy().conversations.coalesce_s
    faults = _Faults(sim=sim, options=options, started=time.monotonic(), quiet_s=quiet_s)
    pace = Pace(coalesce_s=quiet_s, scale=options.thread_pace)
    with (
        httpx.Client(base_url=api, headers=headers, timeout=30) as client,
        Progress(console=console, transient=True) as progress,
    ):
        player = ThreadPlayer(
            client=client, threads=threads, pace=pace, reviewer_key=keys.reviewer
        ).start()
        try:
            pending = _feed_and_wait(options, client, progress, inbox, player, faults, started)
        finally:
            player.stop()
        played = player.results()
    elapsed = time.monotonic() - fed_at
    total = len(inbox) + sum(len(p.message_ids) for p in played)
    with session_scope() as session:
        sample_id = _sample(session)
    print_summary(
        receiver=receiver,
        elapsed_s=elapsed,
        messages=total,
        sample_id=sample_id,
        played=played,
        conversation=_shown(played),
    )
    if pending:
        console.print(f"[red]{pending} messages still in flight after {options.timeout_s:.0f} s[/]")
        return False
    return True


def _feed_and_wait(
    options: DemoOptions,
    client: httpx.Client,
    progress: Progress,
    inbox: list[dict[str, object]],
    player: ThreadPlayer,
    faults: _Faults,
    started: float,
) -> int:
    """Post the inbox while the threads play, then wait until every message has settled
    and every thread has finished; returns how many messages are still pending."""
    bar = progress.add_task("posting the inbox", total=len(inbox))
    for start in range(0, len(inbox), BATCH):
        chunk = inbox[start : start + BATCH]
        client.post("/v1/messages:batch", json={"messages": chunk}).raise_for_status()
        progress.advance(bar, len(chunk))
    total = len(inbox) + player.total_messages
    wait = progress.add_task("processing (and playing the threads)", total=total)
    deadline = started + options.timeout_s
    pending = total
    while time.monotonic() < deadline:
        faults.tick()
        unposted = player.total_messages - player.posted
        pending = _pending(PENDING_STATES) + unposted
        progress.update(wait, completed=total - pending)
        if pending == 0 and player.done():
            break
        time.sleep(0.25)
    return pending
