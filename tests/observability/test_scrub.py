"""The scrubber keeps ids and times and removes texts, names, e-mails and phone numbers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.observability.scrub import (
    FILTERED,
    is_sensitive_key,
    scrub_breadcrumb,
    scrub_data,
    scrub_event,
    scrub_text,
)

words = st.text(alphabet=st.characters(categories=["L", "Zs"]), max_size=30)
digit = st.sampled_from("0123456789")


@st.composite
def phones(draw: st.DrawFn) -> str:
    """E.164 numbers (at most 15 digits) written the ways people write them."""
    country = draw(st.integers(1, 999))
    groups = draw(
        st.lists(st.text(digit, min_size=2, max_size=4), min_size=3, max_size=4).filter(
            lambda gs: len("".join(gs)) + len(str(country)) <= 15
        )
    )
    sep = draw(st.sampled_from([" ", "-", ".", ""]))
    return f"+{country} " + sep.join(groups)


@given(before=words, email=st.emails(), after=words)
def test_an_e_mail_address_anywhere_in_a_string_is_filtered(
    before: str, email: str, after: str
) -> None:
    cleaned = scrub_text(f"{before} {email} {after}")
    assert email not in cleaned and FILTERED in cleaned


@given(before=words, phone=phones(), after=words)
def test_an_international_phone_number_is_filtered(before: str, phone: str, after: str) -> None:
    cleaned = scrub_text(f"{before} {phone} {after}")
    assert phone not in cleaned and FILTERED in cleaned


@given(digits=st.text(digit, min_size=9, max_size=15))
def test_a_bare_run_of_nine_or_more_digits_is_filtered(digits: str) -> None:
    assert scrub_text(f"call {digits} now") == f"call {FILTERED} now"


@given(
    message_id=st.uuids(),
    moment=st.datetimes(timezones=st.just(dt.UTC)),
    amount=st.decimals(min_value=0, max_value=10**6, places=8),
    small=st.integers(0, 99_999_999),
)
def test_ids_times_amounts_and_counts_are_left_alone(
    message_id: uuid.UUID, moment: dt.datetime, amount: Any, small: int
) -> None:
    line = f"{message_id} at {moment.isoformat()} cost {amount} tokens {small} hex {message_id.hex}"
    assert scrub_text(line) == line


def test_pydantic_echoed_input_is_filtered() -> None:
    error = (
        "1 validation error\ntext\n"
        "  Value error [type=value_error, input_value='Hola soy Ana', input_type=str]"
    )
    assert "Hola soy Ana" not in scrub_text(error)


def test_sensitive_keys_are_recognised_by_name() -> None:
    for key in ("text", "reply_text", "draft", "body", "contact_id", "Contact-Name", "name",
                "email", "customer_phone", "prompt", "external_id", "conversation_id"):  # fmt: skip
        assert is_sensitive_key(key), key
    for key in ("message_id", "task_name", "step", "trace_id", "context", "status", "tier"):
        assert not is_sensitive_key(key), key


def test_nested_values_under_sensitive_keys_are_replaced_whole() -> None:
    data = {"message_id": "m", "payload": {"text": "hola", "contact": {"id": "c-1"}}, "n": 3}
    assert scrub_data(data) == {
        "message_id": "m",
        "payload": {"text": FILTERED, "contact": FILTERED},
        "n": 3,
    }


def test_an_event_loses_locals_bodies_user_and_texts_but_keeps_ids_and_trace() -> None:
    mid = str(uuid.uuid4())
    event: dict[str, Any] = {
        "user": {"id": "c-1", "email": "a@b.co"},
        "request": {
            "url": "/v1/messages",
            "data": {"text": "hola"},
            "cookies": "s=1",
            "headers": {"Authorization": "Bearer x", "X-Contact-Id": "c-1"},
        },
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": "bad input for ana@x.io",
                    "stacktrace": {"frames": [{"function": "f", "vars": {"text": "hola"}}]},
                }
            ]
        },
        "extra": {
            "celery-job": {"task_name": "keel.draft", "args": [mid, "hola"], "kwargs": {"x": 1}},
            "reply": "hi",
        },
        "tags": {"message_id": mid, "step": "draft"},
        "contexts": {
            "trace": {"trace_id": "ab" * 16},
            "runtime": {"name": "CPython"},
            "custom": {"contact_name": "Ana"},
        },
        "breadcrumbs": {"values": [{"message": "to +34 612 345 678", "data": {"body": "x"}}]},
    }
    out = scrub_event(event)
    assert "user" not in out
    assert "data" not in out["request"] and "cookies" not in out["request"]
    assert out["request"]["headers"]["X-Contact-Id"] == FILTERED
    value = out["exception"]["values"][0]
    assert value["value"] == f"bad input for {FILTERED}"
    assert "vars" not in value["stacktrace"]["frames"][0]
    assert out["extra"]["celery-job"] == {"task_name": "keel.draft", "args": [mid], "kwargs": {}}
    assert out["extra"]["reply"] == FILTERED
    assert out["tags"] == {"message_id": mid, "step": "draft"}
    assert out["contexts"]["trace"]["trace_id"] == "ab" * 16
    assert out["contexts"]["runtime"]["name"] == "CPython"
    assert out["contexts"]["custom"]["contact_name"] == FILTERED
    assert out["breadcrumbs"]["values"][0] == {
        "message": f"to {FILTERED}",
        "data": {"body": FILTERED},
    }


def test_a_breadcrumb_keeps_its_ids() -> None:
    crumb = {"category": "keel.pipeline", "message": "dead-lettered",
             "data": {"message_id": "m-1", "contact_id": "c-9"}}  # fmt: skip
    assert scrub_breadcrumb(crumb)["data"] == {"message_id": "m-1", "contact_id": FILTERED}
