"""The gateway tests' shared parts: the desk's SMTP listener on a free port, and a client for it."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from support import mail

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


def smtp_send(port: int, raw: bytes, *, mail_from: str = "alice@example.com") -> tuple[int, bytes]:
    """One message over SMTP: the server's reply to the end of DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.mail(mail_from)[0] == 250
        assert client.rcpt("support@sofacoverpro.com")[0] == 250
        return client.data(raw)
