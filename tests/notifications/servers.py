"""Real servers on loopback for the delivery tests: an HTTP recorder and an SMTP sink (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class HttpRecorder:
    """A ThreadingHTTPServer on 127.0.0.1 that records every request and answers from a script.

    ``script`` is a list of Reply consumed in order (then ``default``), or a callable(Request) -> Reply.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: list[Reply] | Callable[[Request], Reply] = []
        self.default = Reply()
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length), time.monotonic()
                )
                with recorder.lock:
                    recorder.requests.append(request)
                    if callable(recorder.script):
                        reply = recorder.script(request)
                    else:
                        reply = recorder.script.pop(0) if recorder.script else recorder.default
                body = reply.body
                if isinstance(body, dict):
                    body = json.dumps(body).encode()
                elif isinstance(body, str):
                    body = body.encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        assert isinstance(host, str)  # an IPv4 address
        return f"http://{host}:{port}"

    def __enter__(self) -> HttpRecorder:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class MailSink:
    """aiosmtpd handler: keeps every message received, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def smtp_server(port: int) -> tuple[Controller, MailSink]:
    sink = MailSink()
    return Controller(sink, hostname="127.0.0.1", port=port), sink
