"""kombu's Redis transport, with one fix: a channel whose connection was closed raises a
connection error, not an AttributeError.

When Redis goes away, Celery's consumer closes the broker connection, ignoring connection
errors, and reconnects. kombu 5.7 can reach that close (or a late ack of a task that was
still running) with the transport already detached from its connection (`client` is None)
and the channel's pools dropped; restoring the unacked messages then builds a new pool
from `client.hostname` and raises `AttributeError: 'NoneType' object has no attribute
'hostname'`. Celery treats that as an unrecoverable error and the worker exits: on a
Redis restart, two chaos runs in seven lost their worker (Heroku restarts a crashed dyno,
with a growing cool-off after repeated crashes). As a connection error it is what it is:
Celery ignores it or logs the failed ack, the consumer reconnects, and the reconciler
re-enqueues what Redis lost. `app/broker/celery.py` makes this the transport of redis://
and rediss:// URLs.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis import exceptions as redis_exceptions


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            raise redis_exceptions.ConnectionError("this channel's broker connection is closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel
