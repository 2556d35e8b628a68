"""Shared state in Redis: every key name Keel writes, and one client per process.

Redis holds only what may be lost: breaker windows, queue markers, crash counters,
probe results. The database stays the record.
"""

from app.state.client import get_redis, reset_redis
from app.state.keys import Keys, keys
from app.state.scripts import script

__all__ = ["Keys", "get_redis", "keys", "reset_redis", "script"]
