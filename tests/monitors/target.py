"""A shop on loopback whose answers the test controls: up, down, slow, or hanging, per path.

``Target`` is a ThreadingHTTPServer on 127.0.0.1 (a free port) started in a thread. Each path
answers from ``routes`` (a ``Route``: status, body, delay), else ``default``; every request is
counted per path. ``down()`` / ``up()`` switch the default between 503 and 200; ``stop()``
closes the port altogether (connection refused), ``start()`` opens it again on the same port.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    status: int = 200
    body: Any = "OK"
    delay: float = 0.0
    content_type: str = "text/plain"
    drip: float = 0.0  # seconds between the body's bytes: a body that takes forever, each byte in time

    def payload(self) -> bytes:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else bytes(self.body)


class QuietServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that hung up mid-answer (a check abandoned at its deadline) is no error here."""


class Target:
    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.default = Route()
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.port = port
        self.server: QuietServer | None = None
        self.thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def up(self) -> None:
        self.default = Route()

    def down(self, status: int = 503) -> None:
        self.default = Route(status=status, body="Service Unavailable")

    def route(self, path: str, **answer: Any) -> None:
        self.routes[path] = Route(**answer)

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits[path]

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Target:
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once (no delayed-ACK stall)

            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                with target.lock:
                    target.hits[path] += 1
                route = target.routes.get(path, target.default)
                if route.delay:
                    time.sleep(route.delay)
                body = route.payload()
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if not route.drip:
                    self.wfile.write(body)
                    return
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    time.sleep(route.drip)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
