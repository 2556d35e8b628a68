"""Flower, started by the Procfile's own line, never runs without basic auth."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from app.demo import procs

ROOT = Path(__file__).resolve().parents[2]


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text("utf-8").splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return command.strip()
    raise AssertionError(f"no {name} in the Procfile")


def flower_env(keel_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    bin_dir = str(Path(procs.python_argv()[0]).parent)
    return {**env, **keel_env, "PATH": f"{bin_dir}:{env.get('PATH', '')}", **extra}


def test_the_procfile_flower_refuses_to_start_without_basic_auth(keel_env: dict[str, str]) -> None:
    result = subprocess.run(
        ["bash", "-c", procfile_command("flower")],
        cwd=ROOT,
        env=flower_env(keel_env, PORT=str(procs.free_port())),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "FLOWER_BASIC_AUTH must be set as user:password" in result.stderr


@pytest.mark.parametrize(
    ("auth", "refused"),
    [("", True), ("admin", True), ("admin:", True), (":pw", True), ("a:b, c:d", True),
     ("ops:s3cret", False), ("ops:s3cret,audit:0th3r", False)],
)  # fmt: skip
def test_flowerconfig_accepts_only_user_colon_password_lists(auth: str, refused: bool) -> None:
    result = subprocess.run(
        [procs.python_argv()[0], str(ROOT / "flowerconfig.py")],
        env={**os.environ, "FLOWER_BASIC_AUTH": auth},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == (1 if refused else 0), result.stderr


@pytest.mark.slow
def test_flower_asks_for_the_password_it_was_given(
    keel_env: dict[str, str], tmp_path: Path
) -> None:
    port = procs.free_port()
    env = flower_env(keel_env, PORT=str(port), FLOWER_BASIC_AUTH="ops:s3cret-pass")
    group = procs.Processes(tmp_path)
    try:
        group.start(
            "flower", ["bash", "-c", f"cd {ROOT} && exec {procfile_command('flower')}"], env
        )
        base = f"http://127.0.0.1:{port}"
        procs.wait_for_http(base)
        assert httpx.get(f"{base}/api/workers").status_code == 401
        assert httpx.get(base, auth=("ops", "wrong")).status_code == 401
        assert httpx.get(base, auth=("ops", "s3cret-pass")).status_code == 200
    finally:
        group.stop_all()
