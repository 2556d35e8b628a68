"""app.json, the Dockerfile and compose.yaml describe the Procfile's deployment: the same
processes, the same commands, every config var, and an image built from the hashed lock."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path(__file__).resolve().parents[3] / "shared" / "SPEC.md"

# SPEC section 2, for checkouts without ../shared/SPEC.md next to them.
SPEC_VARIABLES = frozenset(
    {
        "REDIS_URL", "DATABASE_URL", "KEEL_POLICY", "KEEL_API_KEYS", "KEEL_REVIEWER_KEYS",
        "KEEL_WEBHOOK_URL", "KEEL_WEBHOOK_SECRET", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
        "OPENAI_API_KEY", "OPENAI_BASE_URL", "SENTRY_DSN", "SENTRY_TRACES_SAMPLE_RATE",
        "SENTRY_ENVIRONMENT", "FLOWER_BASIC_AUTH", "PORT", "KEEL_AUDIT_KEY",
        "KEEL_APP_DATABASE_URL", "KEEL_REDIS_TLS_VERIFY", "WEB_CONCURRENCY",
        "WORKER_CONCURRENCY", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_SERVICE_NAME", "KEEL_TRACE_CONTENT",
    }
)  # fmt: skip


def spec_variables() -> frozenset[str]:
    """The variable names in SPEC section 2's table, or the fixed list without the SPEC."""
    if not SPEC.exists():
        return SPEC_VARIABLES
    text = SPEC.read_text("utf-8")
    section = re.search(r"^## 2\..*?(?=^## )", text, re.M | re.S)
    assert section, "SPEC.md has no section 2"
    names: set[str] = set()
    for line in section.group(0).splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    assert names, "no variables found in SPEC section 2"
    return frozenset(names)


def procfile() -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


def app_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "app.json").read_text("utf-8"))
    return data


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))
    return data


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text("utf-8")


def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form (JSON) arguments of the Dockerfile's last `name` instruction."""
    found = re.findall(rf"^{name} (\[.*\])\s*$", dockerfile(), re.M)
    assert found, f"the Dockerfile has no exec-form {name}"
    args: list[str] = json.loads(found[-1])
    return args


# --- app.json ---------------------------------------------------------------------------


def test_app_json_names_the_app_and_its_formation_has_exactly_one_beat() -> None:
    data = app_json()
    assert data["name"] and data["description"]
    assert len(data["description"]) <= 140
    formation = data["formation"]
    assert set(formation) == set(procfile()) - {"release"}
    assert formation["beat"]["quantity"] == 1
    assert (formation["web"]["quantity"], formation["worker"]["quantity"]) == (1, 1)
    assert formation["flower"]["quantity"] == 0
    assert all(entry["size"] for entry in formation.values())


def test_app_json_provisions_postgres_and_key_value_store_under_the_urls_keel_reads() -> None:
    addons = {a["plan"].split(":")[0]: a for a in app_json()["addons"]}
    assert addons["heroku-postgresql"]["as"] == "DATABASE"
    assert addons["heroku-redis"]["as"] == "REDIS"


def test_app_json_declares_every_spec_variable_with_a_description() -> None:
    env = app_json()["env"]
    missing = spec_variables() - set(env)
    assert not missing, f"app.json env lacks {sorted(missing)}"
    for name, entry in env.items():
        assert entry.get("description"), name
        assert set(entry) <= {"description", "value", "required", "generator"}, name
        assert isinstance(entry.get("value", ""), str), name


def test_app_json_turns_tls_verification_off_for_heroku_redis_and_generates_secrets() -> None:
    env = app_json()["env"]
    assert env["KEEL_REDIS_TLS_VERIFY"]["value"] == "none"
    for name in ("KEEL_API_KEYS", "KEEL_WEBHOOK_SECRET", "KEEL_AUDIT_KEY"):
        assert env[name]["generator"] == "secret", name
    # Add-ons and the platform set these; app.json must not ask for them.
    for name in ("DATABASE_URL", "REDIS_URL", "PORT"):
        assert env[name]["required"] is False and "value" not in env[name], name


def test_the_release_phase_migrates_from_the_procfile() -> None:
    # app.json has no release key: Heroku runs the Procfile's `release` before each deploy.
    assert procfile()["release"] == "keel db upgrade"


# --- Dockerfile -------------------------------------------------------------------------


def test_the_image_installs_from_the_hashed_locks_like_make_install() -> None:
    text = dockerfile()
    assert re.search(r"^FROM python:3\.11-slim\s*$", text, re.M)
    build_lock = text.index("--require-hashes -r requirements-build.lock")
    lock = text.index("--require-hashes -r requirements.lock")
    project = text.index("--no-deps --no-build-isolation -e .")
    assert build_lock < lock < project
    # Every pip install goes through one of those three lines.
    assert text.count("pip install") == 3


def test_the_image_runs_as_a_non_root_user_and_defaults_to_web() -> None:
    users = re.findall(r"^USER (\S+)\s*$", dockerfile(), re.M)
    assert users and users[-1] not in {"root", "0"}
    assert dockerfile_instruction("CMD") == ["web"]


def _run_entrypoint(tmp_path: Path, *args: str, env: dict[str, str]) -> list[str]:
    """Run the image's ENTRYPOINT here with `env` replaced by a stub that prints the
    command it would exec, one argument per line."""
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir(exist_ok=True)
    stub = stub_dir / "env"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    entrypoint = dockerfile_instruction("ENTRYPOINT")
    result = subprocess.run(
        [*entrypoint, *args],
        cwd=ROOT,
        env={"PATH": f"{stub_dir}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.splitlines()


def _expanded(command: str, env: dict[str, str]) -> list[str]:
    """The Procfile command as a shell expands `${VAR:-default}` with `env`."""
    expanded = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), command)
    return shlex.split(expanded.replace("$(mktemp -d)", TEMP_DIR))


TEMP_DIR = "<new-temporary-directory>"


def _temp_dirs_named(argv: list[str]) -> list[str]:
    """`VAR=/tmp/x` where /tmp/x is an empty directory (the shell's `$(mktemp -d)`)
    becomes `VAR=<a new temporary directory>`."""
    out = []
    for item in argv:
        name, sep, value = item.partition("=")
        if (
            sep
            and value.startswith("/")
            and Path(value).is_dir()
            and not any(Path(value).iterdir())
        ):
            item = f"{name}={TEMP_DIR}"
        out.append(item)
    return out


@pytest.mark.parametrize("env", [{}, {"PORT": "5000", "WORKER_CONCURRENCY": "32"}])
@pytest.mark.parametrize("process", sorted(procfile()))
def test_the_image_runs_each_procfile_process_by_name(
    tmp_path: Path, process: str, env: dict[str, str]
) -> None:
    ran = _temp_dirs_named(_run_entrypoint(tmp_path, process, env=env))
    assert ran == _expanded(procfile()[process], env)


def test_the_image_runs_any_other_command_as_given(tmp_path: Path) -> None:
    out = subprocess.run(
        [*dockerfile_instruction("ENTRYPOINT"), "echo", "keel db upgrade"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout == "keel db upgrade\n"


def test_the_build_context_leaves_out_the_venv_and_git() -> None:
    ignored = set((ROOT / ".dockerignore").read_text("utf-8").split())
    assert {".venv", ".git"} <= ignored
    for needed in ("app", "tasks", "migrations", "Procfile", "pyproject.toml", "README.md"):
        assert needed not in ignored, needed


# --- compose.yaml -----------------------------------------------------------------------


def test_compose_runs_every_procfile_process_from_the_one_image() -> None:
    services = compose()["services"]
    processes = set(procfile())
    assert processes <= set(services)
    images = {services[name]["image"] for name in processes}
    assert len(images) == 1
    for name in processes:
        # The image's entrypoint resolves the name through the Procfile (tested above).
        assert services[name]["command"] == [name], name
        assert services[name]["build"] == ".", name


def test_compose_starts_processes_after_a_successful_release_on_healthy_services() -> None:
    services = compose()["services"]
    for backing in ("postgres", "redis"):
        assert services[backing]["healthcheck"]["test"], backing
    assert services["postgres"]["image"].endswith("postgres:16")
    assert services["redis"]["image"].endswith("redis:7")
    release = services["release"]
    assert release["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert release["restart"] == "no"
    for name in set(procfile()) - {"release"}:
        depends = services[name]["depends_on"]
        assert depends["release"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_compose_hands_keel_urls_as_a_host_would_and_flower_is_opt_in() -> None:
    services = compose()["services"]
    env = services["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert services["flower"]["profiles"] == ["flower"]
    assert "FLOWER_BASIC_AUTH" in services["flower"]["environment"]


def test_herokus_build_installs_the_hashed_lock_then_keel_itself() -> None:
    root = Path(__file__).resolve().parents[2]
    requirements = [
        line.strip()
        for line in (root / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert requirements == ["-r requirements.lock"]
    assert (root / ".python-version").read_text().strip() == "3.11"
    hook = root / "bin" / "post_compile"
    assert hook.stat().st_mode & 0o111, "bin/post_compile must be executable"
    assert "pip install --no-deps" in hook.read_text()
