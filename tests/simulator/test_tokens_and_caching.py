"""The simulator counts tokens from the text as the providers' tokenizers roughly do, and
serves prompt caches by the providers' rules, through Keel's own adapters and the SDKs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.policy.models import ModelPrice
from app.providers.anthropic_adapter import AnthropicClient
from app.providers.openai_adapter import OpenAIClient
from app.providers.prompt import Prompt
from app.simulator.state import PromptCaches
from app.simulator.tokens import count_tokens, min_cacheable, openai_cached_tokens
from app.simulator.wire import parse_call

SONNET = "claude-sonnet-4-6"
HAIKU = "claude-haiku-4-5"
HEADERS = {"X-Keel-Task": "draft", "X-Keel-Message-Id": "m-1"}


def _stable(words: int) -> str:
    """A stable prefix of about `words` tokens, unique to the test (so no other test's
    call warmed the shared simulator's cache)."""
    return f"run {uuid.uuid4().hex}\n" + " ".join(["course"] * words)


@pytest.fixture
def anthropic_client(sim_url: str) -> Iterator[AnthropicClient]:
    yield AnthropicClient(api_key="sim", base_url=f"{sim_url}/anthropic", timeout_s=5)


@pytest.fixture
def openai_client(sim_url: str) -> Iterator[OpenAIClient]:
    yield OpenAIClient(api_key="sim", base_url=f"{sim_url}/openai/v1", timeout_s=5)


def test_spanish_and_portuguese_cost_more_tokens_than_english_for_the_same_message() -> None:
    en = count_tokens("Hello, how much does the intensive English course cost per month?")
    es = count_tokens("Hola, ¿cuánto cuesta al mes el curso intensivo de inglés?")
    pt = count_tokens("Olá, quanto custa por mês o curso intensivo de inglês?")
    assert 12 <= en <= 18
    assert es > en * 0.9 and pt > en * 0.9
    assert count_tokens("é") >= 1 and count_tokens("🎉") >= 1


@given(st.text(max_size=300), st.text(max_size=300))
def test_a_count_grows_with_the_text(a: str, b: str) -> None:
    assert count_tokens(a + "\n" + b) >= max(count_tokens(a), count_tokens(b))


def test_openai_reports_whole_increments_of_128_past_1024() -> None:
    assert openai_cached_tokens(1023) == 0
    assert openai_cached_tokens(1024) == 1024
    assert openai_cached_tokens(1300) == 1280
    assert min_cacheable("anthropic", SONNET) == 2048
    assert min_cacheable("anthropic", HAIKU) == 4096
    assert min_cacheable("openai", "gpt-5") == 1024


def test_an_anthropic_prefix_is_written_once_then_read_and_priced_as_such(
    anthropic_client: AnthropicClient,
) -> None:
    prompt = Prompt(stable=_stable(2500), system="REPLY LANGUAGE: es", user="hola", max_tokens=50)

    first = anthropic_client.complete(model=SONNET, prompt=prompt, headers=HEADERS, timeout_s=5)
    second = anthropic_client.complete(model=SONNET, prompt=prompt, headers=HEADERS, timeout_s=5)

    # The first call writes the marked prefix, the second reads it; input counts them all
    assert first.cache_write_tokens >= 2500 and first.cache_read_tokens == 0
    assert second.cache_read_tokens == first.cache_write_tokens
    assert second.cache_write_tokens == 0
    assert first.input_tokens == second.input_tokens > first.cache_write_tokens
    price = ModelPrice(
        input_per_mtok_usd=Decimal(3),
        output_per_mtok_usd=Decimal(15),
        cache_write_per_mtok_usd=Decimal("3.75"),
        cache_read_per_mtok_usd=Decimal("0.30"),
    )

    def cost(c: object) -> Decimal:
        return price.cost_usd(
            c.input_tokens,  # type: ignore[attr-defined]
            c.output_tokens,  # type: ignore[attr-defined]
            cache_write_tokens=c.cache_write_tokens,  # type: ignore[attr-defined]
            cache_read_tokens=c.cache_read_tokens,  # type: ignore[attr-defined]
        )

    uncached = price.cost_usd(second.input_tokens, second.output_tokens)
    assert cost(second) < uncached * Decimal("0.25") < uncached < cost(first)


def test_a_prefix_below_the_models_minimum_is_not_cached(
    anthropic_client: AnthropicClient,
) -> None:
    # ~2,500 tokens: enough for Sonnet 4.6 (2,048), not for Haiku 4.5 (4,096)
    prompt = Prompt(stable=_stable(2500), system="", user="hola", max_tokens=50)
    for _ in range(2):
        done = anthropic_client.complete(model=HAIKU, prompt=prompt, headers=HEADERS, timeout_s=5)
        assert done.cache_write_tokens == done.cache_read_tokens == 0


def test_openai_caches_a_long_system_prefix_by_itself_and_bills_no_write(
    openai_client: OpenAIClient,
) -> None:
    prompt = Prompt(stable=_stable(1500), system="INTENT: pricing", user="hola", max_tokens=50)

    first = openai_client.complete(model="gpt-5-mini", prompt=prompt, headers=HEADERS, timeout_s=5)
    second = openai_client.complete(model="gpt-5-mini", prompt=prompt, headers=HEADERS, timeout_s=5)

    assert first.cache_read_tokens == 0 and first.cache_write_tokens == 0
    assert second.cache_read_tokens >= 1024 and second.cache_read_tokens % 128 == 0
    assert second.cache_read_tokens <= second.input_tokens


def test_a_cached_prefix_expires_five_minutes_after_its_last_use() -> None:
    body = (
        b'{"model": "claude-sonnet-4-6", "max_tokens": 10, "system": [{"type": "text", '
        b'"text": "' + ("word " * 2500).encode() + b'", "cache_control": {"type": "ephemeral"}}],'
        b' "messages": [{"role": "user", "content": "hi"}]}'
    )
    call = parse_call("anthropic", body, task="draft", message_id="m")
    caches = PromptCaches()
    assert caches.use(call, now=0).written > 0
    assert caches.use(call, now=299).read > 0  # used: refreshed until 599
    assert caches.use(call, now=598).read > 0
    assert caches.use(call, now=898.5).written > 0  # 300.5 s idle: gone, written again
