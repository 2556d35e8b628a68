"""`/metrics` is served only where an operator asked for it: on the web port behind
KEEL_METRICS_KEY, or on KEEL_METRICS_PORT; with neither there is no such route."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.config import reset_settings
from tests.helpers import API_KEY

METRICS_KEY = "metrics-key-71c2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def metrics_env(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.MonkeyPatch]:
    for name in ("KEEL_METRICS_KEY", "KEEL_METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    yield monkeypatch
    reset_settings()


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()


def test_without_a_key_or_a_port_there_is_no_metrics_route(
    metrics_env: pytest.MonkeyPatch,
) -> None:
    with TestClient(create_app()) as client:
        anonymous = client.get("/metrics")
        with_an_api_key = client.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    assert anonymous.status_code == 404
    assert with_an_api_key.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-key", f"Bearer {API_KEY}", f"Basic {METRICS_KEY}"],
)
def test_with_a_key_metrics_refuse_anything_but_that_bearer_key(
    metrics_env: pytest.MonkeyPatch, authorization: str | None
) -> None:
    configure(metrics_env, KEEL_METRICS_KEY=METRICS_KEY)
    headers = {"Authorization": authorization} if authorization is not None else {}
    with TestClient(create_app()) as client:
        response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert "keel_" not in response.text


def test_with_a_key_metrics_answer_that_bearer_key(metrics_env: pytest.MonkeyPatch) -> None:
    configure(metrics_env, KEEL_METRICS_KEY=METRICS_KEY)
    with TestClient(create_app()) as client:
        response = client.get("/metrics", headers={"Authorization": f"bearer {METRICS_KEY}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'keel_metrics_source_up{source="broker"} 1.0' in response.text


def test_with_a_port_metrics_are_served_there_while_the_app_runs_and_not_on_the_web_port(
    metrics_env: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    configure(metrics_env, KEEL_METRICS_PORT=str(port))
    with TestClient(create_app()) as client:
        on_web_port = client.get("/metrics")
        on_metrics_port = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert on_web_port.status_code == 404
    assert on_metrics_port.status_code == 200
    assert 'keel_metrics_source_up{source="redis"} 1.0' in on_metrics_port.text
    # Stopped with the app
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_second_web_process_leaves_a_taken_metrics_port_to_the_first(
    metrics_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the port already served (another web process of the same server)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        configure(metrics_env, KEEL_METRICS_PORT=str(port))
        # When this one starts, it still starts and serves its API
        with TestClient(create_app()) as client:
            assert client.get("/healthz").status_code == 200
    # And says why it serves no metrics
    assert f"metrics port {port} taken" in caplog.text
