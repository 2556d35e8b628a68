"""Run a simulator in a background thread for tests: `with running_simulator() as url:`."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.simulator import create_app
from app.simulator.rules import LatencyMs
from app.simulator.runner import make_server

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


@contextmanager
def running_simulator(
    *, rules: list[dict[str, Any]] | None = None, latency_ms: LatencyMs = (0, 0)
) -> Iterator[str]:
    """Serve a fresh simulator on a free 127.0.0.1 port; yields `http://127.0.0.1:PORT`.

    Raises:
        RuntimeError: the server did not start within START_TIMEOUT_S.
    """
    app = create_app(rules=rules, latency_ms=latency_ms)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = make_server(app, graceful_s=1)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"simulator-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulator did not start on port {port}")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()
