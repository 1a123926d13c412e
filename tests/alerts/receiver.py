"""A webhook receiver on 127.0.0.1 for tests and the benchmark: records every POST it gets.

`responses` maps a path to (status, extra headers); other paths answer 204.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    events: list[dict[str, Any]]


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    responses: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (path, idempotency key) pairs: what a receiver keeps after deduplication, and the raw count.
    unique: set[tuple[str, str]] = field(default_factory=set)
    total: int = 0

    def keys(self) -> list[str]:
        """Every idempotency key received, duplicates included."""
        with self.lock:
            return [e["idempotency_key"] for r in self.received for e in r.events]

    def record(self, received: Received) -> None:
        with self.lock:
            self.received.append(received)
            for event in received.events:
                self.unique.add((received.path, event["idempotency_key"]))
            self.total += len(received.events)


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            receiver = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                events = list(json.loads(body)["events"])
            except (ValueError, KeyError, TypeError):
                events = []
            receiver.record(Received(self.path, dict(self.headers.items()), body, events))
            status, headers = receiver.responses.get(self.path, (204, {}))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    # shutdown() waits for the serving loop's next poll: every 50 ms, not the default 500 ms a test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        server.shutdown()
        server.server_close()
