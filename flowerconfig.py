"""Flower's settings, read by `celery -A tasks flower --conf=./flowerconfig.py`.

Flower shows every task's name, id and arguments (message ids only) and can revoke
tasks, so it never runs open: without FLOWER_BASIC_AUTH (`user:password`, several
separated by commas) it refuses to start with one line naming the variable.
"""

import os
import re
import sys

_CREDENTIAL = re.compile(r"[^:,\s]+:[^,\s]+")
_auth = os.environ.get("FLOWER_BASIC_AUTH", "").strip()
_credentials = [c for c in _auth.split(",") if c]
if not _credentials or not all(_CREDENTIAL.fullmatch(c) for c in _credentials):
    sys.exit("flower: FLOWER_BASIC_AUTH must be set as user:password")

basic_auth = _credentials
