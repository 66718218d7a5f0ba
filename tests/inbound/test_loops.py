"""Loop and abuse protection: what the desk never answers, the hourly cap on automatic mail, bounces."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.utils import timezone

from inbound.models import InboundMail, MailAddress
from notifications import relay
from notifications.models import Notification
from support import usecases
from tests.notifications.servers import MailSink
from tests.tickets.factories import T0
from tickets.models import Ticket

from .conftest import smtp_send
from .mails import compose, dsn
from .servers import free_port

Outcome = InboundMail.Outcome
M = timedelta(minutes=1)


def receive(raw: bytes, now=T0):
    return usecases.receive_email(raw, now=now)


def acks(address: str = "alice@example.com") -> int:
    return Notification.objects.filter(kind="acknowledgment", recipient=address).count()


@pytest.mark.django_db
class TestNoAutomaticAnswer:
    @pytest.mark.parametrize(
        "headers",
        [
            {"Auto-Submitted": "auto-replied"},
            {"Auto-Submitted": "auto-generated"},
            {"Precedence": "bulk"},
            {"Precedence": "junk"},
            {"Precedence": "list"},
            {"List-Id": "<sofa-owners.lists.example.com>"},
            {"X-Auto-Response-Suppress": "All"},
        ],
    )
    def test_to_automatic_or_list_mail(self, customer, headers):
        receipt = receive(compose(headers=headers))

        assert receipt.outcome == Outcome.OPENED
        assert acks() == 0
        assert "not acknowledged" in InboundMail.objects.get().note

    def test_auto_submitted_no_is_a_person_and_is_answered(self, customer):
        receive(compose(headers={"Auto-Submitted": "no"}))
        assert acks() == 1

    @pytest.mark.parametrize("sender", ["mailer-daemon@mx.example.com", "no-reply@shop.example.com"])
    def test_to_mailer_and_no_reply_addresses(self, db, sender):
        receive(compose(sender=sender, subject="Your order"))
        assert acks(sender) == 0

    @pytest.mark.parametrize(
        ("sender", "headers"),
        [
            ("SofaCover Pro Support <support@sofacoverpro.com>", {}),
            ("Alice <alice@example.com>", {"X-Loop": "support@sofacoverpro.com"}),
        ],
    )
    def test_the_desks_own_mail_coming_back_is_ignored(self, customer, sender, headers):
        raw = compose(sender=sender, headers=headers)

        receipt = receive(raw)

        assert receipt.outcome == Outcome.IGNORED
        assert not Ticket.objects.exists()
        assert InboundMail.objects.get().raw.read() == raw  # kept for a person to look at


@pytest.mark.django_db
class TestHourlyCap:
    def test_at_most_n_automatic_mails_per_address_per_hour(self, customer, settings):
        settings.MAIL_AUTO_REPLIES_PER_HOUR = 3
        for minute in range(5):
            receive(compose(subject=f"Mail {minute}"), now=T0 + timedelta(minutes=minute))

        assert Ticket.objects.count() == 5  # every mail is a ticket...
        assert acks() == 3  # ...but only three are answered

    def test_the_cap_is_per_hour(self, customer, settings):
        settings.MAIL_AUTO_REPLIES_PER_HOUR = 1
        receive(compose(), now=T0)
        receive(compose(), now=T0 + timedelta(minutes=59))
        receive(compose(), now=T0 + timedelta(minutes=61))

        assert acks() == 2

    def test_the_cap_is_per_address(self, customer, other_customer, settings):
        settings.MAIL_AUTO_REPLIES_PER_HOUR = 1
        receive(compose())
        receive(compose())
        receive(compose(sender="bob@example.com"))

        assert (acks(), acks("bob@example.com")) == (1, 1)


def sent_ack(address: str = "alice@example.com", *, now=T0) -> Notification:
    """The desk acknowledges a mail from ``address`` and the relay sends it: a mail that can bounce."""
    receive(compose(sender=address, subject=f"Help {now:%H:%M}"), now=now)
    relay.outbox_flush(now=now)
    ack = Notification.objects.filter(kind="acknowledgment", recipient=address).latest("id")
    assert ack.status == Notification.Status.SENT
    return ack


def undeliverable() -> list[str]:
    return list(MailAddress.objects.filter(undeliverable_at__isnull=False).values_list("address", flat=True))


@pytest.mark.django_db
class TestBounces:
    def test_a_permanent_failure_of_mail_the_desk_sent_marks_the_address_undeliverable(self, customer):
        ack = sent_ack()

        receipt = receive(dsn(recipient="alice@example.com", returned_message_id=ack.message_id), now=T0 + M)

        assert receipt.outcome == Outcome.BOUNCE
        row = MailAddress.objects.get(address="alice@example.com")
        assert (row.undeliverable_at, row.bounce_status) == (T0 + M, "5.1.1")
        assert Ticket.objects.count() == 1  # the first mail's; the report opens none

    def test_then_no_mail_goes_to_it(self, customer):
        ack = sent_ack()
        receive(compose(subject="Second"), now=T0 + M)  # acknowledged: queued before the bounce
        receive(dsn(recipient="alice@example.com", returned_message_id=ack.message_id), now=T0 + 2 * M)
        receive(compose(subject="Third"), now=T0 + 3 * M)  # not even queued
        mail.outbox.clear()

        relay.outbox_flush(now=T0 + 4 * M)

        assert acks() == 2
        assert Notification.objects.get(kind="acknowledgment", status=Notification.Status.SKIPPED)
        assert [m for m in mail.outbox if "alice@example.com" in m.to] == []

    def test_a_report_threaded_to_the_desks_mail_by_in_reply_to_counts_too(self, customer):
        ack = sent_ack()
        report = dsn(returned_message_id="<not-quoted@mx.example.com>").replace(
            b"Auto-Submitted:", f"In-Reply-To: {ack.message_id}\r\nAuto-Submitted:".encode()
        )

        receive(report, now=T0 + M)

        assert undeliverable() == ["alice@example.com"]

    def test_a_delay_notice_marks_nothing(self, customer):
        ack = sent_ack()
        receive(dsn(action="delayed", status="4.4.1", returned_message_id=ack.message_id), now=T0 + M)
        assert undeliverable() == []

    def test_a_forged_report_about_mail_the_desk_never_sent_marks_nothing(self, customer):
        sent_ack()

        receipt = receive(dsn(returned_message_id="<forged@attacker.example>"), now=T0 + M)

        assert "nothing marked" in receipt.note
        assert undeliverable() == []

    @pytest.mark.parametrize("header", ["Message-ID", "In-Reply-To"])
    def test_a_made_up_message_id_on_the_desks_own_domain_marks_nothing(self, customer, header):
        ack = sent_ack()
        made_up = "<20261205120000.4242.1234567890@desk.sofacoverpro.com>"
        assert ack.message_id.endswith("@desk.sofacoverpro.com>")
        assert ack.message_id != made_up
        report = dsn(returned_message_id=made_up)
        if header == "In-Reply-To":
            report = dsn(returned_message_id="<x@mx.example.com>").replace(
                b"Auto-Submitted:", f"In-Reply-To: {made_up}\r\nAuto-Submitted:".encode()
            )

        receipt = receive(report, now=T0 + M)

        assert receipt.outcome == Outcome.BOUNCE
        assert "nothing marked" in receipt.note
        assert undeliverable() == []

    def test_a_report_about_the_desks_mail_to_someone_else_marks_nothing(self, customer, other_customer):
        """Alice knows the Message-ID of a mail she received; she cannot silence Bob with it."""
        ack = sent_ack()
        sent_ack("bob@example.com")

        receipt = receive(dsn(recipient="bob@example.com", returned_message_id=ack.message_id), now=T0 + M)

        assert undeliverable() == []
        assert "did not go to: bob@example.com" in receipt.note

    def test_mail_still_in_the_outbox_cannot_have_bounced(self, customer):
        receive(compose())
        queued = Notification.objects.get(kind="acknowledgment")
        assert queued.status == Notification.Status.PENDING

        receive(dsn(returned_message_id=queued.message_id), now=T0 + M)

        assert undeliverable() == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestABounceRoundTrip:
    def test_only_the_report_of_mail_the_relay_really_sent_marks_its_recipient(self, gateway, settings, customer):
        port = free_port()
        sink = MailSink()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        try:
            assert smtp_send(gateway, compose(subject="Where is my order?"))[0] == 250
            relay.outbox_flush(now=timezone.now())  # the acknowledgment, over SMTP to the sink
            (ack,) = sink.messages
        finally:
            controller.stop()
        headers = ack.as_string().split("\n\n", 1)[0]
        assert ack["Message-ID"].endswith("@desk.sofacoverpro.com>")

        # A report naming a Message-ID of the desk's domain the desk never sent: nothing marked.
        forged = dsn(returned_headers=headers.replace(ack["Message-ID"], "<42.4242@desk.sofacoverpro.com>"))
        assert smtp_send(gateway, forged, mail_from="")[0] == 250
        assert undeliverable() == []

        # The report of the mail the sink received, its headers returned as Postfix returns them.
        assert smtp_send(gateway, dsn(returned_headers=headers), mail_from="")[0] == 250
        assert undeliverable() == ["alice@example.com"]
        assert list(InboundMail.objects.order_by("id").values_list("outcome", flat=True)) == [
            Outcome.OPENED,
            Outcome.BOUNCE,
            Outcome.BOUNCE,
        ]


class AutoResponder:
    """A mail server for one address that answers everything it receives, as a badly made
    out-of-office does: no Auto-Submitted, a fresh thread each time (or, ``polite``, marked as automatic)."""

    address = "oof@partner.example.com"

    def __init__(self, gateway_port: int, *, polite: bool) -> None:
        self.sink = MailSink()
        self.gateway_port, self.polite = gateway_port, polite
        self.sent = 0

    def answer_new_mail(self) -> int:
        """Answer every mail received since the last call, over SMTP to the desk; how many were answered."""
        pending, self.sink.messages = self.sink.messages, []
        for _message in pending:
            headers = {"Auto-Submitted": "auto-replied"} if self.polite else {}
            raw = compose(
                sender=f"Out of Office <{self.address}>",
                # Without the desk's subject: quoting it ([SCP-…]) would make the answer a reply on the
                # ticket, which the desk never acknowledges, and the loop would stop before the cap.
                subject="Out of office",
                body="I am away until Monday.",
                headers=headers,
            )
            code, _ = smtp_send(self.gateway_port, raw, mail_from=self.address)
            assert code == 250
            self.sent += 1
        return len(pending)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestDeskAndAutoResponderMailingEachOther:
    ROUNDS = 30  # far more than the cap: the loop must stop by itself

    def run_loop(self, gateway: int, settings, *, polite: bool) -> AutoResponder:
        port = free_port()
        responder = AutoResponder(gateway, polite=polite)
        controller = Controller(responder.sink, hostname="127.0.0.1", port=port)
        controller.start()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        try:
            # It starts with one mail from the responder's address (a partner writing in).
            with smtplib.SMTP("127.0.0.1", gateway, timeout=30) as client:
                client.sendmail(responder.address, ["support@sofacoverpro.com"], compose(sender=responder.address))
            for _ in range(self.ROUNDS):
                # The gateway reads the clock as mail arrives; the relay runs on the same clock.
                relay.outbox_flush(now=timezone.now())  # the desk sends what it queued, over SMTP to the responder
                if responder.answer_new_mail() == 0:
                    break
        finally:
            controller.stop()
        return responder

    def test_a_responder_without_auto_submitted_stops_at_the_hourly_cap(self, gateway, settings):
        settings.MAIL_AUTO_REPLIES_PER_HOUR = 4

        responder = self.run_loop(gateway, settings, polite=False)

        assert acks(responder.address) == 4
        assert responder.sent == 4  # it answered each acknowledgment once, then heard nothing more
        assert Ticket.objects.count() == 5

    def test_a_responder_that_says_it_is_automatic_is_never_answered(self, gateway, settings):
        responder = self.run_loop(gateway, settings, polite=True)

        assert (acks(responder.address), responder.sent) == (1, 1)


@pytest.mark.django_db
class TestClearingABounce:
    def test_an_admin_makes_an_address_deliverable_again(self, admin_client, customer):
        ack = sent_ack()
        receive(dsn(recipient="alice@example.com", returned_message_id=ack.message_id), now=T0 + M)
        row = MailAddress.objects.get(address="alice@example.com", undeliverable_at__isnull=False)

        admin_client.post("/admin/inbound/mailaddress/", {"action": "mark_deliverable", "_selected_action": [row.pk]})

        receive(compose(), now=T0 + timedelta(minutes=5))
        assert acks() == 2
        assert admin_client.get("/admin/inbound/inboundmail/").status_code == 200
