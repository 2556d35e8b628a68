"""Keel's Redis client and the Celery broker reach a TLS Redis with a self-signed
certificate and a password (Heroku Key-Value Store) when KEEL_REDIS_TLS_VERIFY=none,
and refuse it when verification is required."""

from __future__ import annotations

import ssl
import uuid

import pytest
import redis
from kombu import Connection
from kombu.exceptions import OperationalError

from app.config import get_settings
from app.state import get_redis
from tests.tls_redis import TlsRedis


def _point_keel_at(monkeypatch: pytest.MonkeyPatch, url: str, verify: str) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("KEEL_REDIS_TLS_VERIFY", verify)


def test_keels_client_pings_a_self_signed_server_when_verification_is_off(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, tls_redis: TlsRedis
) -> None:
    _point_keel_at(monkeypatch, tls_redis.url, "none")

    client = get_redis()

    assert client.ping() is True
    assert client.connection_pool.connection_kwargs["ssl_cert_reqs"] == ssl.CERT_NONE


def test_keels_client_refuses_a_self_signed_certificate_when_verification_is_required(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, tls_redis: TlsRedis
) -> None:
    _point_keel_at(monkeypatch, tls_redis.url, "required")

    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        get_redis().ping()


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_a_wrong_or_missing_password_is_refused(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, tls_redis: TlsRedis, password: str
) -> None:
    _point_keel_at(monkeypatch, tls_redis.url_with_password(password), "none")

    with pytest.raises(redis.AuthenticationError):
        get_redis().ping()


def test_a_kombu_connection_with_keels_ssl_options_publishes_and_consumes_a_message(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, tls_redis: TlsRedis
) -> None:
    # Given the options Celery gets as broker_use_ssl
    _point_keel_at(monkeypatch, tls_redis.url, "none")
    settings = get_settings()
    queue = f"keel.deploy-test.{uuid.uuid4().hex[:8]}"

    # When one message goes through the broker transport Celery uses
    with (
        Connection(settings.redis_url, ssl=settings.redis_ssl_options()) as conn,
        conn.SimpleQueue(queue) as simple,
    ):
        simple.put({"message_id": "m-1"})
        received = simple.get(timeout=5)
        received.ack()

    # Then it comes back whole
    assert received.payload == {"message_id": "m-1"}


def test_a_kombu_connection_refuses_a_self_signed_certificate_when_verification_is_required(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, tls_redis: TlsRedis
) -> None:
    # kombu alone falls back to CERT_NONE for rediss://; Keel's options must override it.
    _point_keel_at(monkeypatch, tls_redis.url, "required")
    settings = get_settings()

    with (
        Connection(settings.redis_url, ssl=settings.redis_ssl_options()) as conn,
        pytest.raises(OperationalError, match="certificate verify failed"),
    ):
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
