"""Starting real processes for the demo and the tests, and stopping every one of them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import redis

from app.broker import ALL_QUEUES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, *, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
        return True
    except (redis.RedisError, OSError):
        return False


class Processes:
    """A group of child processes, each in its own session, all stopped by `stop_all`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115  (closed with the child)
        proc = subprocess.Popen(
            list(argv),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.children.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], *, timeout_s: float = 10.0) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for _, proc in reversed(self.children):
            self.stop(proc)
        self.children.clear()


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


def worker_argv(*, concurrency: int = 4, name: str = "keel", pool: str = "prefork") -> list[str]:
    return python_argv(
        "-m", "celery", "-A", "tasks", "worker",
        "-Q", ",".join(ALL_QUEUES),
        "-c", str(concurrency), "-P", pool,
        "-n", f"{name}@%h",
        "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle",
    )  # fmt: skip


def beat_argv(schedule_path: Path) -> list[str]:
    return python_argv(
        "-m", "celery", "-A", "tasks", "beat", "--loglevel", "WARNING", "-s", str(schedule_path)
    )  # fmt: skip


def start_private_redis(procs: Processes, *, data_dir: Path) -> str:
    """A throwaway redis-server on a free port; returns its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed and no Redis answers at REDIS_URL")
    port = free_port()
    procs.start(
        "redis",
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(data_dir)],
        env=dict(os.environ),
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not redis_answers(url):
        if time.monotonic() > deadline:
            raise RuntimeError("private redis-server did not start")
        time.sleep(0.05)
    return url
