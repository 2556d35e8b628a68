"""What reaches Sentry from a database error and from a webhook POST, read as bytes by a
local Sentry receiver: no message text, and no webhook URL with its token."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator

import pytest
import sentry_sdk
import sqlalchemy as sa

from app.config import reset_settings
from app.db import session_scope
from app.db.models import Message
from app.delivery.webhook import post_reply
from app.demo.receiver import WebhookReceiver
from app.observability.sentry import init_sentry
from tests.observability.sentry_receiver import SentryReceiver

TEXT = "Hola, soy Zanahoria Quetzal y quiero el curso intensivo de inglés"
TOKEN = "tok-9f2c77e1d4"

log = logging.getLogger("keel.test.sentry")


@pytest.fixture
def sentry(keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[SentryReceiver]:
    """Sentry on in this process, as a worker starts it, sending to a local receiver."""
    receiver = SentryReceiver().start()
    monkeypatch.setenv("SENTRY_DSN", receiver.dsn)
    monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", "1.0")
    reset_settings()
    assert init_sentry("worker")
    try:
        yield receiver
    finally:
        client = sentry_sdk.get_client()
        client.flush(timeout=5)
        client.close()
        sentry_sdk.get_global_scope().set_client(None)
        sentry_sdk.get_isolation_scope().clear()
        receiver.stop()
        reset_settings()


def sent(receiver: SentryReceiver) -> str:
    sentry_sdk.flush(timeout=10)
    return receiver.raw().decode("utf-8")


def test_a_failing_insert_reaches_sentry_without_the_message_text(
    sentry: SentryReceiver,
) -> None:
    # Given an INSERT Postgres refuses (contact_id is NOT NULL) whose row holds a text:
    # psycopg's DETAIL line echoes the row, SQLAlchemy's message the parameters
    message = Message(external_id="wa-leak-1", channel="whatsapp", contact_id="c-1", text=TEXT)
    message.contact_id = None  # type: ignore[assignment]
    with pytest.raises(sa.exc.IntegrityError) as info, session_scope() as session:
        session.add(message)
    # When it is logged as a line (a breadcrumb), then as an error with its exception
    log.warning("insert failed: %s", info.value)
    try:
        raise info.value
    except sa.exc.IntegrityError:
        log.exception("insert failed")
    raw = sent(sentry)

    # Then Sentry has the error's kind and the breadcrumb, and none of the text
    (event,) = [e for e in sentry.items("event") if e.get("exception")]
    crumbs = [c.get("message") or "" for c in event["breadcrumbs"]["values"]]
    assert any(c.startswith("insert failed: (psycopg.errors.NotNullViolation)") for c in crumbs)
    assert "NotNullViolation" in raw and "contact_id" in raw  # the bytes were read
    for part in (TEXT, "Zanahoria", "Quetzal", "curso intensivo"):
        assert part not in raw, part
    values = {v["type"]: v["value"] for v in event["exception"]["values"]}
    assert "DETAIL: [Filtered]" in values["NotNullViolation"]
    assert "[SQL: [Filtered]]" in values["IntegrityError"]
    assert "[parameters:" not in raw


def test_a_webhook_url_with_a_token_never_reaches_sentry(
    sentry: SentryReceiver, keel_env: dict[str, str]
) -> None:
    # Given a webhook whose URL carries a token in its query
    hook = WebhookReceiver(secret="hook-secret").start()
    url = f"{hook.url}?token={TOKEN}"
    try:
        # When a task POSTs a reply there (httpx) and something else calls the same URL
        # through the standard library, then fails, all inside a traced task
        with sentry_sdk.start_transaction(op="queue.task.celery", name="keel.deliver"):
            post_reply(url=url, secret=hook.secret, payload={"n": 1}, key="keel-k", timeout_s=5)
            request = urllib.request.Request(url, data=b"{}", method="POST")
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200
            log.info("posted to %s", url)
            sentry_sdk.capture_message("delivery finished", level="error")
    finally:
        hook.stop()
    raw = sent(sentry)

    # Then the POSTs happened and Sentry got the event and the transaction
    assert len(hook.posts) == 2
    assert sentry.items("event") and sentry.items("transaction")
    assert "delivery finished" in raw
    # And no URL with the token is in anything Sentry received
    assert TOKEN not in raw
