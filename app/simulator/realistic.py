"""Classification answers in the shapes real models give them: the realistic-answer
scenario (a rule `{"when": {"task": "classify"}, "respond": {"style": "realistic"}}`).

Without structured output a model wraps its JSON in prose or a code fence, capitalises
labels ("Course Info") and names languages ("Spanish"), sends numbers as strings or
percentages, and adds keys; each message gets one of these shapes, the same every run.
With structured output the answer follows the request as the real APIs do: OpenAI's
strict `json_schema` gives exactly the schema; Anthropic's forced tool call gives the
tool's input as an object, now and then with the confidence as a string.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

SHAPES = ("plain", "capitalised", "prose", "fenced", "string_number", "percent", "extra_keys")
_LANGUAGE_NAMES = {"es": "Spanish", "pt": "Portuguese", "en": "English"}


def _label(intent: str) -> str:
    return intent.replace("_", " ").title()


def shaped(data: dict[str, Any], shape: str) -> str:
    """The classification `data` as a model answering in `shape` writes it."""
    if shape == "capitalised":
        language = _LANGUAGE_NAMES.get(str(data["language"]), data["language"])
        return json.dumps({**data, "intent": _label(str(data["intent"])), "language": language})
    if shape == "prose":
        return f"Sure! Here is the classification:\n{json.dumps(data)}\nHope this helps."
    if shape == "fenced":
        return f"```json\n{json.dumps(data, indent=2)}\n```"
    if shape == "string_number":
        return json.dumps({**data, "confidence": str(data["confidence"])})
    if shape == "percent":
        return json.dumps({**data, "confidence": f"{round(float(data['confidence']) * 100)}%"})
    if shape == "extra_keys":
        extra = {"reasoning": "The customer's question decides the intent.", **data}
        return json.dumps({**extra, "sentiment": "neutral"}, ensure_ascii=False)
    return json.dumps(data)


def realistic_classification(
    exact: str, *, key: str, structured: str | None
) -> tuple[str, dict[str, Any] | None]:
    """(answer text, tool input or None) for the exact classification JSON `exact`."""
    data: dict[str, Any] = json.loads(exact)
    pick = zlib.crc32(key.encode("utf-8"))
    if structured == "json_schema":
        return exact, None
    if structured == "tool":
        tool = {**data, "confidence": str(data["confidence"])} if pick % 3 == 0 else data
        return json.dumps(tool), tool
    return shaped(data, SHAPES[pick % len(SHAPES)]), None
