"""What each Procfile process loads, and the worker's defaults (SPEC 14: one worker fits a
512 MiB dyno): web and beat load neither provider SDK nor lingua nor scikit-learn; the
worker loads what its policy needs before its pool starts and sizes its database pool to
its threads; the Procfile runs a threads pool and honours WORKER_POOL,
WORKER_CONCURRENCY and WEB_CONCURRENCY."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import get_settings
from app.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("anthropic", "openai", "lingua", "sklearn", "numpy")


def _loaded_after(code: str, **env: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running `code`."""
    listed = f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    probe = f"{code}\nimport json, sys\n{listed}"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text("utf-8").splitlines()
    found = (line.partition(":") for line in lines if line.strip() and line[0] != "#")
    return {name.strip(): command.strip() for name, _, command in found}


def test_web_and_beat_start_without_the_sdks_lingua_or_scikit_learn() -> None:
    # web imports the API; beat (and the worker, before it starts its pool) import tasks
    assert _loaded_after("import app.api") == []
    assert _loaded_after("import tasks") == []


def test_with_sentry_on_web_and_beat_still_load_no_provider_sdk_and_the_worker_does() -> None:
    dsn = {"SENTRY_DSN": "https://public@sentry.example/1"}
    start = "from app.observability.sentry import init_sentry\n"
    assert _loaded_after(start + "import app.api; init_sentry('web')", **dsn) == []
    assert _loaded_after(start + "import tasks; init_sentry('beat')", **dsn) == []
    worker = _loaded_after(start + "import tasks; init_sentry('worker')", **dsn)
    assert {"anthropic", "openai"} <= set(worker)


def test_a_provider_sdk_is_imported_when_its_first_client_is_built() -> None:
    code = (
        "from app.config import get_settings\n"
        "from app.providers.registry import build_client\n"
        "build_client('openai', get_settings())"
    )
    assert _loaded_after(code, OPENAI_API_KEY="sk-test") == ["openai"]


def test_the_worker_loads_what_its_steps_use_before_its_pool_starts() -> None:
    # The bundled policy's tiers name both providers, and its local model needs
    # scikit-learn (with numpy): all loaded once, before the pool starts.
    code = (
        "from app.pipeline.warmup import prepare_worker\n"
        "prepare_worker(threads=96)\n"
        "from app.db.engine import get_engine\n"
        "pool = get_engine('postgresql+psycopg://u@127.0.0.1:1/none').pool\n"
        "assert pool.size() + pool._max_overflow >= 96, (pool.size(), pool._max_overflow)"
    )
    assert _loaded_after(code) == ["anthropic", "openai", "lingua", "sklearn", "numpy"]


def test_the_procfile_runs_a_threads_pool_and_honours_the_concurrency_variables() -> None:
    lines = procfile()
    worker, web = lines["worker"], lines["web"]
    assert re.search(r"--pool \$\{WORKER_POOL:-threads\}", worker)
    match = re.search(r"--concurrency \$\{WORKER_CONCURRENCY:-(\d+)\}", worker)
    assert match and 16 <= int(match.group(1)) <= 128
    assert worker.startswith("REMAP_SIGTERM=SIGQUIT ")
    assert re.search(r"--workers \$\{WEB_CONCURRENCY:-\d+\}", web)


@pytest.mark.usefixtures("fresh_settings")
def test_worker_pool_is_threads_or_prefork_and_prefork_needs_a_concurrency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKER_POOL", "prefork")
    monkeypatch.delenv("WORKER_CONCURRENCY", raising=False)
    with pytest.raises(ConfigError, match=r"^WORKER_CONCURRENCY: .*WORKER_POOL=prefork"):
        get_settings()
    monkeypatch.setenv("WORKER_CONCURRENCY", "4")
    get_settings.cache_clear()
    assert (get_settings().worker_pool, get_settings().worker_concurrency) == ("prefork", 4)
    monkeypatch.setenv("WORKER_POOL", "gevent")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match=r"^WORKER_POOL: "):
        get_settings()
    monkeypatch.setenv("WORKER_POOL", "")
    get_settings.cache_clear()
    assert get_settings().worker_pool is None
