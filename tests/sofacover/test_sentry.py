"""Error tracking: an exception reaches the Sentry endpoint SENTRY_DSN names, without personal data.

The endpoint is a loopback HTTP server this test runs, taking Sentry's envelopes as sentry-sdk
posts them over the network; the DSN points at it.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
import sentry_sdk
from django.test import Client

from sofacover import sentry
from support import tasks
from tests.tickets.factories import make_user

EMAIL = "alice.customer@example.com"
NOTE = "my card ends 4242 and I live at 1 Elm Street"
TOKEN = "Mg-ckq9x1-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


class SentryEndpoint:
    """What a Sentry server would receive: each envelope's raw bytes, decompressed."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        self.paths: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                endpoint.paths.append(self.path)
                endpoint.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/42"

    def raw(self) -> bytes:
        return b"\n".join(self.envelopes)

    def events(self) -> list[dict]:
        """The error events among the envelopes' items (an envelope: a header line, then item header and body)."""
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")
            for header, body in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(body))
        return found


@pytest.fixture
def endpoint() -> Iterator[SentryEndpoint]:
    server = SentryEndpoint()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def tracking(endpoint, settings) -> Iterator[SentryEndpoint]:
    """sentry-sdk started as the settings start it, with the DSN pointing at the loopback endpoint."""
    assert sentry.sentry_init(dsn=endpoint.dsn, environment="test", release="abc123", traces_sample_rate=0.0)
    yield endpoint
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def flushed(endpoint: SentryEndpoint) -> SentryEndpoint:
    sentry_sdk.flush(timeout=10)
    return endpoint


class TestWithoutADsn:
    def test_nothing_is_started(self):
        assert sentry.sentry_init(dsn="", environment="test", release=None, traces_sample_rate=0.0) is False
        assert not sentry_sdk.get_client().is_active()


class TestOptions:
    def test_no_personal_data_is_collected_and_nothing_is_deprecated(self, tracking, recwarn):
        collection = sentry_sdk.get_client().options["data_collection"]

        assert collection["user_info"] is False
        assert collection["http_bodies"] == []
        assert collection["stack_frame_variables"] is False
        assert collection["cookies"]["mode"] == "off"
        assert not [w for w in recwarn if "deprecated" in str(w.message)]


@pytest.mark.django_db
@pytest.mark.urls("tests.sofacover.urls_crash")
class TestAViewThatFails:
    def test_reaches_the_endpoint_without_the_customers_data(self, tracking):
        customer = make_user(EMAIL, "customer")
        client = Client(raise_request_exception=False)
        client.force_login(customer)
        session = client.cookies["sessionid"].value

        response = client.post(f"/crash/{TOKEN}/?email={EMAIL}", {"email": EMAIL, "note": NOTE})

        assert response.status_code == 500
        events = flushed(tracking).events()
        assert tracking.paths
        assert all(path == "/api/42/envelope/" for path in tracking.paths)
        [error] = [event for event in events if event.get("exception")]
        assert error["exception"]["values"][-1]["type"] == "RuntimeError"
        assert error["exception"]["values"][-1]["value"] == "could not reach the mailbox of [email]"
        assert error["environment"] == "test"
        assert error["release"] == "abc123"
        # Named by its URL pattern, never by the path that carries the token.
        assert error["transaction"] == "/crash/{token}/"
        assert error.get("request", {}).keys() <= {"method"}
        assert error.get("user", {}).keys() <= {"id"}
        raw = tracking.raw()
        for secret in (EMAIL, EMAIL.replace("@", "%40"), NOTE, TOKEN, session, "sessionid", "csrftoken"):
            assert secret.encode() not in raw, f"{secret!r} was sent to Sentry"

    def test_local_variables_are_not_sent(self, tracking):
        make_user(EMAIL, "customer")
        Client(raise_request_exception=False).post(f"/crash/{TOKEN}/", {"email": EMAIL, "note": NOTE})

        [error] = [event for event in flushed(tracking).events() if event.get("exception")]
        frames = error["exception"]["values"][-1]["stacktrace"]["frames"]
        assert frames
        assert not any("vars" in frame for frame in frames)


@pytest.mark.django_db
class TestATaskThatFails:
    def test_reaches_the_endpoint_without_the_address(self, tracking):
        with mock.patch("support.usecases.close_resolved", side_effect=RuntimeError(f"no mailbox for {EMAIL}")):
            result = tasks.close_resolved_tickets.apply()

        assert result.failed()
        [error] = [event for event in flushed(tracking).events() if event.get("exception")]
        assert error["exception"]["values"][-1]["value"] == "no mailbox for [email]"
        assert error["transaction"] == "support.tasks.close_resolved_tickets"
        assert EMAIL.encode() not in tracking.raw()


class TestScrub:
    def test_outgoing_requests_keep_only_their_origin(self):
        crumb = sentry.scrub_breadcrumb(
            {
                "category": "httplib",
                "data": {"url": "https://hooks.slack.com/services/T0/B0/SECRET", "http.query": "a=b", "method": "POST"},
            }
        )
        assert crumb["data"] == {"url": "https://hooks.slack.com", "method": "POST"}

    def test_emails_are_replaced_anywhere_in_the_event(self):
        event = sentry.scrub(
            {
                "message": f"mail to {EMAIL} bounced",
                "extra": {"to": [EMAIL, "x"], "n": 3},
                "request": {"method": "GET", "url": "https://desk/activate/MQ/tok/", "data": {"e": EMAIL}},
                "user": {"id": "7", "email": EMAIL, "ip_address": "203.0.113.9"},
            }
        )
        assert event == {
            "message": "mail to [email] bounced",
            "extra": {"to": ["[email]", "x"], "n": 3},
            "request": {"method": "GET"},
            "user": {"id": "7"},
        }
