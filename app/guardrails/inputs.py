"""Input checks on a customer message before any model sees it: size, encoding, language
and the prompt-injection screen. `check_input` returns the verdicts (one audit event
each) and the flags stored on the message; blank, NUL and oversize texts are refused
earlier, by the ingest step, as invalid input."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from app.guardrails.injection import check_injection
from app.guardrails.langdetect import detect
from app.guardrails.text import INVISIBLE
from app.guardrails.verdict import Verdict

MAX_INPUT_CHARS = 8000
# Below this confidence the detected language is not kept (short texts like "ok").
MIN_LANGUAGE_CONFIDENCE = 0.6


@dataclass(frozen=True)
class InputReport:
    """What the input checks found: verdicts, the language if confident, stored flags."""

    verdicts: list[Verdict]
    language: str | None
    flags: dict[str, object] = field(default_factory=dict)

    @property
    def injection(self) -> bool:
        return bool(self.flags.get("injection"))


def check_size(text: str, *, max_chars: int = MAX_INPUT_CHARS) -> Verdict:
    """Fail with `blank` or `too_long`; the detail counts characters and UTF-8 bytes."""
    chars = len(text)
    nbytes = len(text.encode("utf-8", "surrogatepass"))
    detail: dict[str, object] = {"chars": chars, "bytes": nbytes, "max_chars": max_chars}
    if not text.strip():
        return Verdict(check="input_size", passed=False, reason="blank", detail=detail)
    if chars > max_chars:
        return Verdict(check="input_size", passed=False, reason="too_long", detail=detail)
    return Verdict(check="input_size", passed=True, detail=detail)


def check_encoding(text: str) -> Verdict:
    """Fail with `nul_bytes` or `lone_surrogates` (text no model can take); count control,
    invisible and replacement characters, which only flag."""
    controls = sum(
        1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" and ch != "\0"
    )
    detail: dict[str, object] = {
        "control_chars": controls,
        "invisible_chars": len(INVISIBLE.findall(text)),
        "replacement_chars": text.count("\ufffd"),
    }
    if "\0" in text:
        return Verdict(check="input_encoding", passed=False, reason="nul_bytes", detail=detail)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return Verdict(
            check="input_encoding", passed=False, reason="lone_surrogates", detail=detail
        )
    return Verdict(check="input_encoding", passed=True, detail=detail)


def check_input_language(text: str) -> Verdict:
    """Which of es, pt, en the message is in; never fails (an unclear language is recorded
    as None and the classifier or the contact's locale decides)."""
    found = detect(text)
    confident = found.language is not None and found.confidence >= MIN_LANGUAGE_CONFIDENCE
    detail: dict[str, object] = {
        "language": found.language if confident else None,
        "confidence": round(found.confidence, 3),
        "scores": found.scores,
    }
    return Verdict(check="input_language", passed=True, detail=detail, blocking=False)


def check_input(text: str, *, max_chars: int = MAX_INPUT_CHARS) -> InputReport:
    """Every input check, in the order the audit records them."""
    size = check_size(text, max_chars=max_chars)
    encoding = check_encoding(text)
    verdicts = [size, encoding]
    language: str | None = None
    if size.passed and encoding.passed:
        lang = check_input_language(text)
        injection = check_injection(text)
        verdicts += [lang, injection]
        language = lang.detail["language"]  # type: ignore[assignment]
    flags: dict[str, object] = {
        "language": language,
        "injection": any(v.check == "injection" and not v.passed for v in verdicts),
        "injection_patterns": next(
            (v.detail["patterns"] for v in verdicts if v.check == "injection"), []
        ),
        **{k: v for k, v in encoding.detail.items() if v},
        "chars": size.detail["chars"],
    }
    return InputReport(verdicts=verdicts, language=language, flags=flags)
