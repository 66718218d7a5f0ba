"""The gateway's three doors against real parts: SMTP from smtplib on loopback, Dovecot's IMAP server,
and the Mailgun-style webhook through Django's test client."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inbound import imap, webhook
from inbound.models import InboundMail
from support import mail, usecases
from tests.tickets.factories import make_user
from tickets.models import Ticket

from .conftest import smtp_send
from .mails import compose
from .servers import ImapServer, dovecot, free_port

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_make_run_starts_the_mail_gateway_beside_web_workers_and_beat():
    from pathlib import Path

    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    processes = dict(line.split(":", 1) for line in procfile.splitlines() if line.strip())
    assert set(processes) == {"web", "worker", "timers", "beat", "mail"}
    assert "manage.py mailgate" in processes["mail"]


@transactional
class TestSmtp:
    def test_a_message_over_smtp_opens_a_ticket(self, gateway):
        make_user("alice@example.com")

        code, text = smtp_send(gateway, compose(subject="Sent over SMTP"))

        ticket = Ticket.objects.get()
        assert (code, ticket.subject, ticket.channel) == (250, "Sent over SMTP", "email")
        assert (ticket.reference or "?").encode() in text
        assert InboundMail.objects.get().door == "smtp"

    def test_the_same_message_delivered_twice_is_stored_once(self, gateway):
        make_user("alice@example.com")
        raw = compose()

        assert smtp_send(gateway, raw)[0] == smtp_send(gateway, raw)[0] == 250

        assert Ticket.objects.count() == InboundMail.objects.count() == 1

    def test_an_envelope_without_a_sender_is_a_bounce_that_is_never_answered(self, gateway):
        raw = compose(sender="MAILER-DAEMON@mx.example.net", subject="Undelivered Mail Returned to Sender")

        assert smtp_send(gateway, raw, mail_from="")[0] == 250

        assert InboundMail.objects.get().outcome == "bounce"
        assert not Ticket.objects.exists()

    def test_an_unknown_sender_is_refused_with_550_when_the_desk_refuses_them(self, gateway, settings, caplog):
        settings.MAIL_UNKNOWN_SENDERS = "refuse"

        with caplog.at_level(logging.WARNING):
            code, text = smtp_send(gateway, compose(sender="stranger@example.org"))

        assert (code, text[:5]) == (550, b"5.7.1")
        assert not InboundMail.objects.exists()
        assert "unknown_sender" in caplog.text

    def test_a_message_over_the_size_limit_is_refused_with_552_and_logged(self, settings, caplog):
        settings.MAIL_MAX_BYTES = 20_000
        port = free_port()
        server = mail.smtp_gateway(hostname="127.0.0.1", port=port, workers=1)
        server.start()
        try:
            big = compose(attachments=[("big.bin", "application/octet-stream", bytes(range(256)) * 120)])
            with caplog.at_level(logging.WARNING):
                code, _ = smtp_send(port, big)
        finally:
            server.stop()

        assert code == 552
        assert not InboundMail.objects.exists()
        assert "552" in caplog.text

    def test_when_the_desk_fails_the_sender_is_told_to_retry_and_nothing_is_stored(self, gateway, monkeypatch, caplog):
        make_user("alice@example.com")

        def broken(raw, **kwargs):
            raise RuntimeError("database down")

        monkeypatch.setattr(usecases, "receive_email", broken)
        with caplog.at_level(logging.ERROR):
            code, _ = smtp_send(gateway, compose())

        assert code == 451
        assert "asked to retry" in caplog.text
        assert not Ticket.objects.exists()


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    with dovecot() as server:
        yield server


def poll(server: ImapServer) -> imap.PollResult:
    result = mail.fetch_mail(server.mailbox())
    assert result is not None
    return result


@transactional
class TestImap:
    def test_the_poller_stores_new_mail_and_marks_it_seen(self, imap_server):
        make_user("alice@example.com")
        imap_server.deliver(compose(subject="First"), compose(subject="Second"))

        result = poll(imap_server)

        assert (result.fetched, result.stored) == (2, 2)
        assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["First", "Second"]
        assert all("\\Seen" in flags for flags in imap_server.flags())
        assert set(InboundMail.objects.values_list("door", flat=True)) == {"imap"}

    def test_a_second_poll_finds_nothing_new(self, imap_server):
        make_user("alice@example.com")
        imap_server.deliver(compose())
        poll(imap_server)

        assert poll(imap_server).fetched == 0

    def test_two_pollers_reading_the_same_messages_store_each_once(self, imap_server):
        make_user("alice@example.com")
        raw = compose()
        imap_server.deliver(raw, raw)  # the provider delivered it twice, too

        first = poll(imap_server)

        assert (first.stored, first.duplicates) == (1, 1)
        assert Ticket.objects.count() == 1

    def test_a_malformed_message_is_flagged_in_the_mailbox_and_logged(self, imap_server, caplog):
        make_user("alice@example.com")
        imap_server.deliver(b"Subject: no sender at all\r\n\r\nhello\r\n", compose(subject="Fine"))

        with caplog.at_level(logging.WARNING):
            result = poll(imap_server)

        assert (result.refused, result.stored) == (1, 1)
        assert imap_server.flags()[0] >= {"\\Seen", "\\Flagged"}
        assert "mail_malformed" in caplog.text

    def test_when_the_desk_fails_the_message_stays_unseen_for_the_next_poll(self, imap_server, monkeypatch):
        make_user("alice@example.com")
        imap_server.deliver(compose())
        real = usecases.receive_email
        monkeypatch.setattr(usecases, "receive_email", lambda raw, **kw: (_ for _ in ()).throw(RuntimeError("down")))

        assert poll(imap_server).failed == 1
        assert "\\Seen" not in imap_server.flags()[0]

        monkeypatch.setattr(usecases, "receive_email", real)
        assert poll(imap_server).stored == 1

    def test_the_fetch_mail_command_reads_the_configured_mailbox(self, imap_server, settings):
        make_user("alice@example.com")
        settings.MAIL_IMAP_HOST, settings.MAIL_IMAP_PORT, settings.MAIL_IMAP_SSL = "127.0.0.1", imap_server.port, False
        settings.MAIL_IMAP_USER, settings.MAIL_IMAP_PASSWORD = imap_server.user, imap_server.password
        imap_server.deliver(compose())
        out = StringIO()

        call_command("fetch_mail", stdout=out)

        assert "stored 1" in out.getvalue()
        assert Ticket.objects.count() == 1

    def test_the_beat_task_reads_the_configured_mailbox(self, imap_server, settings):
        from support import tasks

        make_user("alice@example.com")
        settings.MAIL_IMAP_HOST, settings.MAIL_IMAP_PORT, settings.MAIL_IMAP_SSL = "127.0.0.1", imap_server.port, False
        settings.MAIL_IMAP_USER, settings.MAIL_IMAP_PASSWORD = imap_server.user, imap_server.password
        imap_server.deliver(compose())

        assert "stored 1" in tasks.fetch_mail()
        assert settings.CELERY_BEAT_SCHEDULE["fetch-mail"]["task"] == "support.tasks.fetch_mail"

    def test_the_command_says_when_the_mailbox_cannot_be_reached(self, settings, imap_server):
        settings.MAIL_IMAP_HOST, settings.MAIL_IMAP_PORT, settings.MAIL_IMAP_SSL = "127.0.0.1", free_port(), False

        with pytest.raises(CommandError, match=r"IMAP 127\.0\.0\.1"):
            call_command("fetch_mail")


KEY = "mailgun-signing-key"


def mailgun_post(client, raw: bytes, *, key: str = KEY, timestamp: int | None = None, token: str = "tok-1"):
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    fields = {
        "timestamp": stamp,
        "token": token,
        "signature": webhook.signature(key=key, timestamp=stamp, token=token),
        "body-mime": raw.decode("utf-8"),
        "recipient": "support@sofacoverpro.com",
    }
    return client.post("/api/v1/mail/inbound/mailgun/", fields)


@pytest.mark.django_db
class TestWebhook:
    @pytest.fixture(autouse=True)
    def _key(self, settings):
        settings.MAIL_WEBHOOK_SIGNING_KEY = KEY

    def test_a_signed_post_stores_the_message(self, client, customer):
        response = mailgun_post(client, compose(subject="Via the provider"))

        assert response.status_code == 200
        ticket = Ticket.objects.get()
        assert response.json() == {"outcome": "opened", "ticket": ticket.reference, "duplicate": False}
        assert InboundMail.objects.get().door == "webhook"

    def test_a_wrong_signature_is_refused(self, client, customer):
        assert mailgun_post(client, compose(), key="not-the-key").status_code == 403
        assert not InboundMail.objects.exists()

    def test_a_replayed_post_is_refused(self, client, customer):
        raw = compose()
        assert mailgun_post(client, raw, token="same").status_code == 200
        assert mailgun_post(client, raw, token="same").status_code == 403

    def test_a_stale_post_is_refused(self, client, customer):
        assert mailgun_post(client, compose(), timestamp=int(time.time()) - 3600).status_code == 403

    def test_a_malformed_message_is_refused_so_the_provider_does_not_retry(self, client, db):
        response = mailgun_post(client, b"Subject: nobody\r\n\r\nhi")

        assert response.status_code == 406
        assert response.json()["code"] == "mail_malformed"

    def test_the_webhook_is_off_without_a_key(self, client, settings, customer):
        settings.MAIL_WEBHOOK_SIGNING_KEY = ""
        assert mailgun_post(client, compose()).status_code == 404


class TestWorkerProcesses:
    def test_the_listener_hands_messages_to_worker_processes_and_answers_for_them(self):
        from inbound import smtp

        port = free_port()
        gateway = smtp.Gateway(
            lambda raw: pytest.fail("not in this process"),
            hostname="127.0.0.1",
            port=port,
            max_bytes=1_000_000,
            receive_path="tests.inbound.stubs.receive_in_worker",
            processes=2,
        )
        gateway.start()
        try:
            code, text = smtp_send(port, compose())
            refused, _ = smtp_send(port, compose(body="malformed"))
        finally:
            gateway.stop()

        assert (code, refused) == (250, 550)
        worker_pid = int(text.decode().rsplit("SCP-", 1)[1])
        assert worker_pid != os.getpid()
