"""The gateway tests' shared parts: the desk's SMTP listener on a free port, a client for it, and a sink
for the desk's own mail."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from support import mail
from tests.notifications.servers import MailSink, smtp_server

from .servers import free_port


@pytest.fixture
def gateway(settings) -> Iterator[int]:
    """The desk's SMTP listener on a free loopback port, delivering into the test database."""
    port = free_port()
    server = mail.smtp_gateway(hostname="127.0.0.1", port=port, workers=2)
    server.start()
    try:
        yield port
    finally:
        server.stop()


@pytest.fixture
def mail_sink(settings) -> Iterator[MailSink]:
    """Where the relay sends the desk's mail: an SMTP server (aiosmtpd) on a free loopback port."""
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 3
    settings.EMAIL_USE_TLS = False
    controller, sink = smtp_server(port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def smtp_send(port: int, raw: bytes, *, mail_from: str = "alice@example.com") -> tuple[int, bytes]:
    """One message over SMTP: the server's reply to the end of DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.mail(mail_from)[0] == 250
        assert client.rcpt("support@sofacoverpro.com")[0] == 250
        return client.data(raw)
