"""A stand-in for Sentry's ingest: accepts envelopes over HTTP and keeps their bytes."""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Item:
    type: str
    payload: dict[str, Any]


def parse_envelope(raw: bytes) -> list[Item]:
    """The items of one envelope: a header line, then item header + payload pairs."""
    items: list[Item] = []
    _, _, rest = raw.partition(b"\n")
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        try:
            body = json.loads(payload) if payload else {}
        except ValueError:
            body = {}
        items.append(Item(type=str(header.get("type")), payload=body))
    return items


class SentryReceiver:
    """Threaded HTTP server on a free port; `dsn` points an SDK at it."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    raw = gzip.decompress(raw)
                elif encoding:
                    raise ValueError(f"unexpected Content-Encoding {encoding}")
                if self.path.rstrip("/").endswith("/envelope"):
                    with receiver.lock:
                        receiver.envelopes.append(raw)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server.server_address[1]}/1"

    def start(self) -> SentryReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def raw(self) -> bytes:
        with self.lock:
            return b"\n".join(self.envelopes)

    def items(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            envelopes = list(self.envelopes)
        return [i.payload for raw in envelopes for i in parse_envelope(raw) if i.type == kind]
