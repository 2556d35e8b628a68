"""`KEEL_REVIEWER_KEYS`: `name:token` pairs, read once; a malformed value stops the
process at start with one line naming the variable and never echoing a token."""

from __future__ import annotations

import pytest

from app.config import get_settings, parse_reviewer_keys, reset_settings
from app.errors import ConfigError

ANA = "ana-0123456789abcdef"
LUIS = "luis-0123456789abcdef"


def test_pairs_are_read_as_tokens_by_name_and_blanks_are_ignored() -> None:
    assert parse_reviewer_keys(f" ana:{ANA}, ,luis.f@desk:{LUIS} ,") == {
        "ana": ANA,
        "luis.f@desk": LUIS,
    }
    assert parse_reviewer_keys("") == {}


def test_a_token_may_hold_colons_after_the_name() -> None:
    assert parse_reviewer_keys("ana:abc:def:0123456789abc") == {"ana": "abc:def:0123456789abc"}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (ANA, "not name:token"),
        (f":{ANA}", "not name:token"),
        ("ana:", "not name:token"),
        (f"ana smith:{ANA}", "the name must be"),
        ("ana:short", "at least 16 characters"),
        ("ana:has a space 0123456789", "without spaces"),
        (f"ana:{ANA},ana:{LUIS}", "given twice"),
        (f"ana:{ANA},luis:{ANA}", "reuses another reviewer's token"),
    ],
)
def test_a_malformed_value_fails_at_start_naming_the_variable_without_the_token(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("KEEL_REVIEWER_KEYS", value)
    reset_settings()
    try:
        with pytest.raises(ConfigError) as info:
            get_settings()
    finally:
        reset_settings()
    message = str(info.value)
    assert message.startswith("KEEL_REVIEWER_KEYS") and problem in message
    assert "\n" not in message
    assert ANA not in message and LUIS not in message


def test_a_reviewer_token_that_is_also_an_ingest_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEEL_API_KEYS", f"other-ingest-key,{ANA}")
    monkeypatch.setenv("KEEL_REVIEWER_KEYS", f"ana:{ANA}")
    reset_settings()
    try:
        with pytest.raises(ConfigError) as info:
            get_settings()
    finally:
        reset_settings()
    assert str(info.value).startswith("KEEL_REVIEWER_KEYS") and "KEEL_API_KEYS" in str(info.value)
    assert ANA not in str(info.value)


def test_without_the_variable_nobody_can_review(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_REVIEWER_KEYS", raising=False)
    reset_settings()
    try:
        assert get_settings().reviewer_keys == {}
    finally:
        reset_settings()
