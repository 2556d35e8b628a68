"""Keel's Redis transport: a task that finishes after the consumer closed its broker
connection (what Celery does when Redis goes away) acks into a connection error that
Celery logs, not an AttributeError that stops the worker."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kombu import Exchange, Message, Queue
from kombu.common import ignore_errors

from app.broker import celery_app
from app.broker.transport import Transport


def _receive_one(conn: Any, queue: Queue) -> Message:
    received: list[Message] = []
    with conn.Consumer(queue, callbacks=[lambda _body, message: received.append(message)]):
        while not received:
            conn.drain_events(timeout=5)
    return received[0]


@pytest.mark.usefixtures("keel_env")
@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://127.0.0.1:6379/0"])
def test_redis_urls_use_keels_transport(url: str) -> None:
    with celery_app.connection_for_write(url) as conn:
        assert conn.transport_cls in ("redis", "rediss")
        assert isinstance(conn.transport, Transport)
        assert conn.as_uri().startswith(url.split("://")[0] + "://")


@pytest.mark.usefixtures("keel_env")
def test_an_ack_on_a_channel_its_closed_connection_left_behind_is_a_logged_connection_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = Queue("keel.transport-test", Exchange("keel.transport-test"), "t")
    conn = celery_app.connection_for_write()
    with conn.Producer() as producer:
        producer.publish({"n": 1}, exchange=queue.exchange, routing_key="t", declare=[queue])
    # Given a message received and not yet acked (a task still running, acks_late)
    message = _receive_one(conn, queue)

    # When Redis restarts and the consumer's close of the old connection stops halfway,
    # which is what the worker's log showed: the transport detached from its connection
    # (kombu sets `client` to None), the channel's pools dropped, the channel not closed
    transport = message.channel.connection
    message.channel._disconnect_pools()
    transport.client = None

    # Then the late ack is a connection error, which Celery's ack path logs (kombu 5.7's
    # own transport raises AttributeError on `client.hostname`, and the worker exits)
    with caplog.at_level(logging.CRITICAL):
        message.ack_log_error(logging.getLogger("test"), conn.connection_errors)
    assert "Couldn't ack" in caplog.text
    assert "connection is closed" in caplog.text
    assert not message.acknowledged


@pytest.mark.usefixtures("keel_env")
def test_closing_a_connection_its_transport_already_left_is_a_connection_error() -> None:
    queue = Queue("keel.transport-test", Exchange("keel.transport-test"), "t")
    conn = celery_app.connection_for_write()
    with conn.Producer() as producer:
        producer.publish({"n": 1}, exchange=queue.exchange, routing_key="t", declare=[queue])
    message = _receive_one(conn, queue)
    # Given the state the worker's log showed after a Redis restart: a message unacked on
    # the default channel, the channel's pools dropped, the transport's client gone
    message.channel._disconnect_pools()
    message.channel.connection.client = None

    # When Celery closes the connection as it does on a connection error, ignoring the
    # connection's errors; then nothing escapes (kombu 5.7's own transport raises
    # AttributeError from the channel's restore of unacked messages: "Unrecoverable
    # error", and the worker exits)
    ignore_errors(conn, conn.close)
