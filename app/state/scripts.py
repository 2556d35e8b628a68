"""Lua scripts bound to a Redis client, registered once per client and source.

Registering is local (the script runs by EVALSHA and is loaded only on NOSCRIPT), so a
script costs one round trip per call, however many commands it runs.
"""

from __future__ import annotations

import weakref

import redis
from redis.commands.core import Script

_bound: weakref.WeakKeyDictionary[redis.Redis, dict[str, Script]] = weakref.WeakKeyDictionary()


def script(client: redis.Redis, source: str) -> Script:
    """`source` as a script bound to `client`, made on first use."""
    scripts = _bound.get(client)
    if scripts is None:
        scripts = _bound[client] = {}
    found = scripts.get(source)
    if found is None:
        found = scripts[source] = client.register_script(source)
    return found
