"""A real redis-server speaking only TLS, with a self-signed certificate and a password,
as Heroku Key-Value Store hands one over (`rediss://:password@host:port`).

Use it from a fixture: `with running_tls_redis(tmp_dir) as server: ... server.url`.
The certificate comes from the `openssl` CLI (the `cryptography` package is not in the
lock); a missing `openssl` or `redis-server` fails the test, never skips it.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class TlsRedis:
    """Where the TLS server listens and how to reach it."""

    host: str
    port: int
    password: str
    ca_file: Path
    log_file: Path

    @property
    def url(self) -> str:
        return f"rediss://:{self.password}@{self.host}:{self.port}/0"

    def url_with_password(self, password: str) -> str:
        return f"rediss://:{password}@{self.host}:{self.port}/0"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed; the TLS Redis tests need it")
    return path


def make_self_signed_certificate(
    directory: Path, *, common_name: str = "localhost"
) -> tuple[Path, Path]:
    """A self-signed certificate (also its own CA) and its key for 127.0.0.1 and localhost."""
    cert, key = directory / "redis.crt", directory / "redis.key"
    subprocess.run(
        [
            _binary("openssl"), "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", f"/CN={common_name}",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(server: TlsRedis) -> bool:
    client = redis.Redis(
        host=server.host,
        port=server.port,
        password=server.password,
        ssl=True,
        ssl_cert_reqs=ssl.CERT_NONE,
        socket_timeout=1,
        socket_connect_timeout=1,
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_tls_redis(directory: Path) -> Iterator[TlsRedis]:
    """A TLS-only redis-server on a free port, answering PING before this yields.

    Raises:
        RuntimeError: the server exited or did not answer within START_TIMEOUT_S.
    """
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = make_self_signed_certificate(directory)
    server = TlsRedis(
        host="127.0.0.1",
        port=_free_port(),
        password=secrets.token_urlsafe(24),
        ca_file=cert,
        log_file=directory / "redis.log",
    )
    process = subprocess.Popen(
        [
            _binary("redis-server"),
            "--port", "0",
            "--tls-port", str(server.port),
            "--tls-cert-file", str(cert),
            "--tls-key-file", str(key),
            "--tls-ca-cert-file", str(cert),
            "--tls-auth-clients", "no",
            "--requirepass", server.password,
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
            "--logfile", str(server.log_file),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(server):
            if process.poll() is not None or time.monotonic() > deadline:
                log = server.log_file.read_text() if server.log_file.exists() else ""
                raise RuntimeError(f"TLS redis-server did not start:\n{log[-2000:]}")
            time.sleep(0.05)
        yield server
    finally:
        _stop(process)
