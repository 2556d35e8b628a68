"""The uvicorn server the simulator runs in, quiet and quick to stop."""

from __future__ import annotations

import socket

import uvicorn

from app.simulator.server import Simulator


class SimulatorServer(uvicorn.Server):
    """A uvicorn server that, on shutdown, first drops requests held by `timeout` rules."""

    def __init__(self, config: uvicorn.Config, app: Simulator) -> None:
        super().__init__(config)
        self.simulator = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.simulator.release_held()
        await super().shutdown(sockets=sockets)


def make_server(
    app: Simulator, *, host: str = "127.0.0.1", port: int = 0, graceful_s: float = 5.0
) -> SimulatorServer:
    """A server for `app`: log level warning, no access log, no lifespan."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=int(graceful_s),
    )
    return SimulatorServer(config, app)
