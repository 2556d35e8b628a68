"""The two wire formats: parse an Anthropic or OpenAI request into a `Call`, and build
the success and error bodies each provider's SDK expects."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from app.simulator.tokens import (
    ANTHROPIC_FORCED_TOOL_OVERHEAD,
    MESSAGE_OVERHEAD,
    REQUEST_OVERHEAD,
    count_tokens,
)

ANTHROPIC = "anthropic"
OPENAI = "openai"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# Anthropic's `error.type` by HTTP status (https://docs.anthropic.com/en/api/errors).
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# OpenAI's `error.type` and `error.code` by HTTP status.
_OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}
_DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "Invalid API key.",
    403: "Permission denied.",
    404: "Not found.",
    408: "Request timed out.",
    413: "Request too large.",
    429: "Rate limit exceeded, please slow down.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service unavailable.",
    504: "Upstream request timed out.",
    529: "Overloaded",
}


class BadRequest(ValueError):
    """Raised when a request body is not a valid call of the provider's API."""


@dataclass(frozen=True, slots=True)
class Call:
    """One model request as the simulator sees it."""

    provider: str
    model: str
    task: str
    message_id: str
    system: str
    user: str
    text: str
    raw: str
    # What the request asked the answer to be: "tool" (Anthropic: a forced tool call,
    # `tool_name`), "json_schema" (OpenAI: structured outputs), or None (free text).
    structured: str | None = None
    tool_name: str | None = None
    # Every prompt token as the provider counts them (app/simulator/tokens.py), and the
    # prefix the provider may serve from its prompt cache: Anthropic's tools and system
    # blocks up to the last `cache_control` breakpoint, OpenAI's system message.
    input_tokens: int = 1
    cache_prefix: str = ""
    cache_prefix_tokens: int = 0


def _block_text(content: object) -> str:
    """Text of a message `content`: a string or a list of text blocks/parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                text = block.get("text")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return ""


def infer_task(system: str, user: str) -> str:
    """The task of a request without an `X-Keel-Task` header, guessed from Keel's prompts."""
    if "CATALOG (the only prices you may quote):" in system:
        return "draft"
    if "Answer with one JSON object" in system:
        return "classify"
    return "other"


def parse_call(provider: str, body: bytes, *, task: str | None, message_id: str | None) -> Call:
    """Parse a request body of either provider.

    Raises:
        BadRequest: the body is not JSON or misses `model` or `messages`.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model: Field required")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: Field required")
    if data.get("stream"):
        raise BadRequest("stream: streaming is not supported by the simulator")
    system_parts: list[str] = []
    if provider == ANTHROPIC:
        if not isinstance(data.get("max_tokens"), int):
            raise BadRequest("max_tokens: Field required")
        system_parts.append(_block_text(data.get("system", "")))
    texts: list[str] = []
    user = ""
    for message in messages:
        if not isinstance(message, dict):
            raise BadRequest("messages: each message must be an object")
        role = message.get("role")
        text = _block_text(message.get("content"))
        if role in ("system", "developer"):
            system_parts.append(text)
            continue
        texts.append(text)
        if role == "user":
            user = text
    structured, tool_name = _structured(provider, data)
    system = "\n".join(part for part in system_parts if part)
    full = f"{system}\n{chr(10).join(texts)}" if system else "\n".join(texts)
    extras = _request_extras(provider, data, structured)
    prefix = _cache_prefix(provider, data, system)
    input_tokens = (
        count_tokens(full)
        + count_tokens(extras)
        + REQUEST_OVERHEAD
        + MESSAGE_OVERHEAD * (len(texts) + (1 if system else 0))
        + (ANTHROPIC_FORCED_TOOL_OVERHEAD if structured == "tool" else 0)
    )
    return Call(
        provider=provider,
        model=model,
        task=task or infer_task(system, user),
        message_id=message_id or "",
        system=system,
        user=user,
        text=full,
        raw=body.decode("utf-8", "replace"),
        structured=structured,
        tool_name=tool_name,
        input_tokens=max(1, input_tokens),
        cache_prefix=prefix,
        cache_prefix_tokens=count_tokens(prefix) if prefix else 0,
    )


def _request_extras(provider: str, data: dict[str, object], structured: str | None) -> str:
    """What the request adds to the prompt besides its messages: Anthropic's tool
    definitions, OpenAI's response schema (both are tokens the provider bills)."""
    if provider == ANTHROPIC:
        tools = data.get("tools")
        return _dumps(tools) if isinstance(tools, list) else ""
    if structured == "json_schema":
        return _dumps(data.get("response_format"))
    return ""


def _cache_prefix(provider: str, data: dict[str, object], system: str) -> str:
    """The part of the prompt a provider may cache. Anthropic: its tools and system
    blocks up to the last one marked with `cache_control` (nothing without a mark);
    OpenAI: the system message, cached by itself."""
    if provider != ANTHROPIC:
        return system
    blocks = data.get("system")
    if not isinstance(blocks, list):
        return ""
    marked = [i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")]
    if not marked:
        return ""
    tools = data.get("tools")
    head = _dumps(tools) if isinstance(tools, list) else ""
    return head + _block_text(blocks[: marked[-1] + 1])


def _structured(provider: str, data: dict[str, object]) -> tuple[str | None, str | None]:
    """Whether the request forces a tool call (Anthropic) or a JSON schema (OpenAI)."""
    if provider == ANTHROPIC:
        choice = data.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") == "tool":
            name = choice.get("name")
            return "tool", name if isinstance(name, str) else None
        return None, None
    response_format = data.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        return "json_schema", None
    return None, None


def output_tokens(text: str) -> int:
    return max(1, count_tokens(text))


@dataclass(frozen=True, slots=True)
class CacheUse:
    """Prompt tokens written to and read from the provider's cache by one call."""

    written: int = 0
    read: int = 0


def success_body(
    call: Call,
    *,
    text: str,
    response_id: str,
    tool_input: dict[str, object] | None = None,
    cache: CacheUse = CacheUse(),
) -> bytes:
    """The provider's 200 body for an answer `text`; for Anthropic with `tool_input`, a
    `tool_use` block calling the request's forced tool with it. Usage counts tokens as
    each provider does: Anthropic's `input_tokens` leaves out the cached ones (reported
    as `cache_creation_input_tokens` and `cache_read_input_tokens`); OpenAI's
    `prompt_tokens` counts them all, with the cached ones in `prompt_tokens_details`."""
    out_tokens = output_tokens(text if tool_input is None else _dumps(tool_input))
    if call.provider == ANTHROPIC:
        content: list[dict[str, object]] = [{"type": "text", "text": text}]
        if tool_input is not None:
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{response_id}",
                    "name": call.tool_name or "answer",
                    "input": tool_input,
                }
            ]
        payload: dict[str, object] = {
            "id": f"msg_{response_id}",
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": content,
            "stop_reason": "end_turn" if tool_input is None else "tool_use",
            "stop_sequence": None,
            "usage": {
                "input_tokens": max(0, call.input_tokens - cache.written - cache.read),
                "cache_creation_input_tokens": cache.written,
                "cache_read_input_tokens": cache.read,
                "output_tokens": out_tokens,
            },
        }
    else:
        payload = {
            "id": f"chatcmpl-{response_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": call.input_tokens,
                "completion_tokens": out_tokens,
                "total_tokens": call.input_tokens + out_tokens,
                "prompt_tokens_details": {"cached_tokens": cache.read, "audio_tokens": 0},
            },
            "system_fingerprint": "fp_keel_sim",
        }
    return _dumps(payload).encode()


def malformed_body(call: Call, *, response_id: str) -> bytes:
    """A 200 body cut off mid-way, as a dropped proxy would deliver it."""
    whole = success_body(call, text="This answer was cut off in transit.", response_id=response_id)
    return whole[: len(whole) // 2]


def wrong_shape_body(call: Call, *, response_id: str) -> bytes:
    """A 200 body of valid JSON in the legacy text-completion shape: no usable content."""
    text = "This answer is in the wrong shape."
    if call.provider == ANTHROPIC:
        payload: dict[str, object] = {
            "id": f"msg_{response_id}",
            "type": "completion",
            "model": call.model,
            "completion": text,
            "stop_reason": "stop_sequence",
        }
    else:
        payload = {
            "id": f"cmpl-{response_id}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
        }
    return _dumps(payload).encode()


def error_body(provider: str, status: int, *, message: str | None, request_id: str) -> bytes:
    """The provider's error body for an HTTP `status`."""
    text = message or _DEFAULT_MESSAGES.get(status, f"HTTP {status}")
    if provider == ANTHROPIC:
        kind = _ANTHROPIC_ERROR_TYPES.get(status) or (
            "api_error" if status >= 500 else "invalid_request_error"
        )
        payload: dict[str, object] = {
            "type": "error",
            "error": {"type": kind, "message": text},
            "request_id": request_id,
        }
    else:
        kind, code = _OPENAI_ERRORS.get(status) or (
            ("server_error", None) if status >= 500 else ("invalid_request_error", None)
        )
        payload = {"error": {"message": text, "type": kind, "param": None, "code": code}}
    return _dumps(payload).encode()


def request_id_header(provider: str) -> bytes:
    return b"request-id" if provider == ANTHROPIC else b"x-request-id"


def json_bytes(payload: object) -> bytes:
    return _dumps(payload).encode()
