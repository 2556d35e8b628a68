"""One simulator per test module, reset before every test, and SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from app.simulator.testing import running_simulator

Ask = Callable[..., Any]


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with running_simulator() as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_simulator(request: pytest.FixtureRequest) -> None:
    """Clear rules, outages and stats before each test that uses the shared simulator."""
    if "sim_url" in request.fixturenames:
        url = request.getfixturevalue("sim_url")
        httpx.delete(f"{url}/_sim/rules").raise_for_status()
        httpx.delete(f"{url}/_sim/stats").raise_for_status()


@pytest.fixture
def claude(sim_url: str) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(api_key="sim", base_url=f"{sim_url}/anthropic", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def gpt(sim_url: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(api_key="sim", base_url=f"{sim_url}/openai/v1", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def ask_claude(claude: anthropic.Anthropic) -> Ask:
    """Send one Messages call the way Keel does; returns the SDK's Message."""

    def ask(
        user: str = "hi",
        *,
        system: str = "You are a test.",
        task: str = "probe",
        message_id: str = "m-1",
        model: str = "claude-haiku-4-5",
        timeout_s: float = 5.0,
    ) -> Any:
        return claude.messages.create(
            model=model,
            max_tokens=400,
            system=system,
            messages=[{"role": "user", "content": user}],
            extra_headers={"X-Keel-Task": task, "X-Keel-Message-Id": message_id},
            timeout=timeout_s,
        )

    return ask


@pytest.fixture
def ask_gpt(gpt: openai.OpenAI) -> Ask:
    """Send one Chat Completions call the way Keel does; returns the SDK's ChatCompletion."""

    def ask(
        user: str = "hi",
        *,
        system: str = "You are a test.",
        task: str = "probe",
        message_id: str = "m-1",
        model: str = "gpt-5-nano",
        timeout_s: float = 5.0,
    ) -> Any:
        return gpt.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            extra_headers={"X-Keel-Task": task, "X-Keel-Message-Id": message_id},
            timeout=timeout_s,
        )

    return ask


def add_rules(url: str, rules: object, *, first: bool = False) -> dict[str, Any]:
    response = httpx.post(f"{url}/_sim/rules", json=rules, params={"first": "1"} if first else {})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def rules(sim_url: str) -> Callable[..., dict[str, Any]]:
    """POST rules to the shared simulator: `rules({...})` or `rules([...], first=True)`."""

    def post(payload: object, *, first: bool = False) -> dict[str, Any]:
        return add_rules(sim_url, payload, first=first)

    return post


@pytest.fixture
def stats(sim_url: str) -> Callable[[], dict[str, Any]]:
    def get() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{sim_url}/_sim/stats").json()
        return body

    return get
