"""The scrubber keeps ids and times and removes texts, names, e-mails and phone numbers."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest
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


# What SQLAlchemy and psycopg make of a NOT NULL violation on an INSERT into messages.
DB_ERROR = (
    '(psycopg.errors.NotNullViolation) null value in column "contact_id" of relation '
    '"messages" violates not-null constraint\n'
    "DETAIL:  Failing row contains (9b1d, wa-1, whatsapp, null, Hola, soy Ana] "
    "y quiero el curso, {}).\n"
    "[SQL: INSERT INTO messages (id, external_id, channel, contact_id, text)\n"
    "VALUES (%(id)s::VARCHAR, %(external_id)s::VARCHAR, %(channel)s::VARCHAR, "
    "%(contact_id)s::VARCHAR, %(text)s)]\n"
    "[parameters: {'id': '9b1d', 'text': 'Hola, soy Ana] y quiero el curso', "
    "'channel': 'whatsapp'}]\n"
    "(Background on this error at: https://sqlalche.me/e/21/gkpj)"
)


def test_a_database_error_keeps_its_kind_and_loses_its_statement_parameters_and_detail() -> None:
    cleaned = scrub_text(DB_ERROR)
    assert "Ana" not in cleaned and "curso" not in cleaned
    assert "INSERT" not in cleaned and "whatsapp" not in cleaned
    assert cleaned.startswith('(psycopg.errors.NotNullViolation) null value in column "contact_id"')
    assert "[SQL: [Filtered]]" in cleaned and "DETAIL: [Filtered]" in cleaned
    assert cleaned.endswith("(Background on this error at: https://sqlalche.me/e/21/gkpj)")


def test_parameters_are_filtered_even_without_a_statement_and_hidden_ones_stay_hidden() -> None:
    assert scrub_text("boom\n[parameters: ('Hola Ana',)]") == f"boom\n[parameters: {FILTERED}]"
    hidden = "boom\n[SQL parameters hidden due to hide_parameters=True]"
    assert scrub_text(hidden) == hidden


def test_postgres_echoes_of_a_value_are_filtered() -> None:
    error = "invalid input syntax for type uuid: \"Hola Ana\"\nLINE 1: ...WHERE id = 'Hola Ana'"
    assert "Ana" not in scrub_text(error)
    assert scrub_text(error).startswith("invalid input syntax for type uuid:")


def test_a_database_error_in_an_event_and_a_breadcrumb_is_cleaned() -> None:
    event: dict[str, Any] = {
        "exception": {"values": [{"type": "IntegrityError", "value": DB_ERROR}]},
        "breadcrumbs": {"values": [{"category": "keel", "message": f"insert failed: {DB_ERROR}"}]},
    }
    out = scrub_event(event)
    assert "Ana" not in str(out) and "[SQL: [Filtered]]" in str(out)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://crm.example.com/keel?token=s3cr3t", f"https://crm.example.com/keel?{FILTERED}"),
        ("http://127.0.0.1:9000/hook#s3cr3t", f"http://127.0.0.1:9000/hook?{FILTERED}"),
        ("https://bob:s3cr3t@crm.example.com/keel", f"https://{FILTERED}@crm.example.com/keel"),
        ("https://crm.example.com/keel/path", "https://crm.example.com/keel/path"),
    ],
)
def test_a_url_keeps_its_host_and_path_and_loses_its_query_and_credentials(
    url: str, expected: str
) -> None:
    assert scrub_text(f"POST {url} failed") == f"POST {expected} failed"


def test_an_http_breadcrumb_keeps_no_query() -> None:
    # As Sentry's httplib (and httpx) integrations record a request
    crumb = {
        "type": "http",
        "category": "httplib",
        "data": {
            "url": "https://crm.example.com/keel?token=s3cr3t",
            "http.method": "POST",
            "http.query": "token=s3cr3t",
            "http.fragment": "s3cr3t",
            "status_code": 200,
        },
    }
    out = scrub_breadcrumb(crumb)
    assert "s3cr3t" not in str(out)
    assert out["data"]["http.method"] == "POST" and out["data"]["status_code"] == 200


def _seconds(run: Any, text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    "unit",
    ["http://", "://a", "[SQL: x", "[parameters: x", "DETAIL: x\n", "invalid input syntax for "],
)
def test_the_new_patterns_are_linear_in_their_input(unit: str) -> None:
    # Ten times the text may cost about ten times as much, not a hundred
    small = unit * (5_000 // len(unit))
    large = unit * (50_000 // len(unit))
    ratio = _seconds(scrub_text, large) / max(_seconds(scrub_text, small), 1e-6)
    assert ratio < 30, ratio
