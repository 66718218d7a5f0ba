"""Inbound mail joined with the desk's outbound mail: its Message-IDs, its reply address, its CC list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbound.models import InboundMail
from notifications import mailthread, relay
from notifications.models import Notification
from support import usecases
from tests.tickets.factories import T0, make_user
from tickets.models import Message, Ticket, TicketCc

from .mails import compose

pytestmark = pytest.mark.django_db
Outcome = InboundMail.Outcome
M = timedelta(minutes=1)


def opened_by_mail(**kwargs) -> Ticket:
    usecases.receive_email(compose(**kwargs), now=T0)
    return Ticket.objects.get()


class TestAReplyToTheDesksOwnMail:
    def test_in_reply_to_an_agents_reply_goes_on_its_ticket_without_a_reference_in_the_subject(self, customer, agent):
        ticket = opened_by_mail()
        usecases.reply(ticket=ticket, author=agent, body="Which model is it?", now=T0 + M)
        sent = Notification.objects.get(kind=Notification.Kind.REPLY, recipient="alice@example.com")
        assert sent.message_id

        receipt = usecases.receive_email(
            compose(subject="Re: your question", body="The Oslo three-seater.", in_reply_to=sent.message_id),
            now=T0 + 2 * M,
        )

        assert (receipt.outcome, receipt.ticket_reference) == (Outcome.REPLIED, ticket.reference)
        assert ticket.messages.order_by("id").values_list("body", flat=True).last() == "The Oslo three-seater."

    def test_sent_to_the_tickets_reply_address_goes_on_it(self, customer):
        ticket = opened_by_mail()
        address = f"support+{ticket.reference.lower()}@sofacoverpro.com"

        receipt = usecases.receive_email(
            compose(to=address, subject="one more thing", body="Photos follow."), now=T0 + M
        )

        assert (receipt.outcome, receipt.ticket_reference) == (Outcome.REPLIED, ticket.reference)

    def test_a_stranger_answering_the_desks_mail_opens_a_ticket_of_their_own(self, customer, other_customer, agent):
        ticket = opened_by_mail()
        usecases.reply(ticket=ticket, author=agent, body="Which model is it?", now=T0 + M)
        sent = Notification.objects.get(kind=Notification.Kind.REPLY, recipient="alice@example.com")

        usecases.receive_email(
            compose(sender="bob@example.com", subject="Re: x", body="Forged.", in_reply_to=sent.message_id),
            now=T0 + 2 * M,
        )

        assert not Message.objects.filter(ticket=ticket, body="Forged.").exists()
        assert Ticket.objects.filter(requester=other_customer).count() == 1


class TestTheFirstEmailsCc:
    def test_is_copied_on_the_replies_and_may_answer_them(self, customer, agent):
        ticket = opened_by_mail(headers={"Cc": "Dan <dan@example.com>, support@sofacoverpro.com"})
        assert list(TicketCc.objects.filter(ticket=ticket).values_list("email", flat=True)) == ["dan@example.com"]

        usecases.reply(ticket=ticket, author=agent, body="Which model is it?", now=T0 + M)
        to_dan = Notification.objects.get(kind=Notification.Kind.REPLY, recipient="dan@example.com")
        receipt = usecases.receive_email(
            compose(sender="dan@example.com", subject="Re: x", body="Oslo, in grey.", in_reply_to=to_dan.message_id),
            now=T0 + 2 * M,
        )

        assert (receipt.outcome, receipt.ticket_reference) == (Outcome.REPLIED, ticket.reference)
        assert ticket.messages.order_by("id").values_list("author__username", flat=True).last() == "dan@example.com"

    def test_a_copied_person_never_sees_the_ticket_in_the_portal(self, customer, client):
        ticket = opened_by_mail(headers={"Cc": "dan@example.com"})
        dan = make_user("dan@example.com", "customer")

        client.force_login(dan)
        assert client.get(f"/tickets/{ticket.reference}/").status_code == 404

    def test_a_long_cc_header_fills_the_list_and_stops_there(self, customer):
        many = ", ".join(f"person{n}@example.com" for n in range(300))

        ticket = opened_by_mail(headers={"Cc": many})

        copied = list(TicketCc.objects.filter(ticket=ticket).order_by("id").values_list("email", flat=True))
        assert copied == [f"person{n}@example.com" for n in range(20)]


def flushed(sink, address: str = "alice@example.com", *, now=T0) -> list:
    """What the relay sends at ``now`` to ``address``, as the SMTP sink received it (the sink is emptied)."""
    result = relay.outbox_flush(now=now)
    assert result.dead == result.retrying == 0, str(result)
    mails = [mail for mail in sink.messages if mail["To"] == address]
    sink.messages[:] = [mail for mail in sink.messages if mail["To"] != address]
    return mails


class TestTheDesksMailAnswersTheCustomersEmail:
    """Headers as the desk's mail arrives at an SMTP server (aiosmtpd), read with the email module."""

    def test_the_acknowledgment_of_an_emailed_request_is_in_reply_to_it(self, customer, mail_sink):
        usecases.receive_email(compose(message_id="<request-1@mail.example.com>"), now=T0)

        (ack,) = flushed(mail_sink)

        root = mailthread.root_id(Ticket.objects.get())
        assert ack["In-Reply-To"] == "<request-1@mail.example.com>"
        assert ack["References"].split() == [root, "<request-1@mail.example.com>"]

    def test_an_agents_reply_answers_the_customers_latest_mail_not_the_acknowledgment(self, customer, agent, mail_sink):
        ticket = opened_by_mail(message_id="<request-1@mail.example.com>")
        (ack,) = flushed(mail_sink)
        usecases.receive_email(
            compose(
                subject="Re: x",
                body="It is the Oslo.",
                message_id="<more-2@mail.example.com>",
                in_reply_to=ack["Message-ID"],
                references=f"{ack['References']} {ack['Message-ID']}",
            ),
            now=T0 + M,
        )

        usecases.reply(ticket=ticket, author=agent, body="Thanks, a new cover is on its way.", now=T0 + 2 * M)
        (answer,) = flushed(mail_sink, now=T0 + 2 * M)

        root = mailthread.root_id(ticket)
        assert answer["In-Reply-To"] == "<more-2@mail.example.com>"
        assert answer["References"].split() == [
            root,
            "<request-1@mail.example.com>",
            ack["Message-ID"],
            "<more-2@mail.example.com>",
        ]

    def test_each_recipient_is_answered_in_their_own_thread_never_with_anothers_ids(self, customer, agent, mail_sink):
        ticket = opened_by_mail(message_id="<alice-1@mail.example.com>", headers={"Cc": "dan@example.com"})
        usecases.reply(ticket=ticket, author=agent, body="Which model?", now=T0 + M)
        to_dan = flushed(mail_sink, "dan@example.com", now=T0 + M)[0]
        root = mailthread.root_id(ticket)
        assert to_dan["In-Reply-To"] == root  # Dan wrote nothing yet: Alice's mail is not his thread
        usecases.receive_email(
            compose(
                sender="dan@example.com",
                subject="Re: x",
                body="The Oslo, says Alice.",
                message_id="<dan-1@mail.example.com>",
                in_reply_to=to_dan["Message-ID"],
            ),
            now=T0 + 2 * M,
        )

        usecases.reply(ticket=ticket, author=agent, body="Thank you both.", now=T0 + 3 * M)

        (dan,) = flushed(mail_sink, "dan@example.com", now=T0 + 3 * M)
        alice = [mail for mail in flushed(mail_sink, now=T0 + 3 * M) if mail["Subject"].startswith("Re:")][-1]
        assert (dan["In-Reply-To"], alice["In-Reply-To"]) == ("<dan-1@mail.example.com>", "<alice-1@mail.example.com>")
        assert "<alice-1@mail.example.com>" not in dan["References"]
        assert "<dan-1@mail.example.com>" not in alice["References"]

    def test_a_mail_without_a_message_id_is_not_referred_to(self, customer, agent, mail_sink):
        raw = compose(message_id="<dropped@mail.example.com>").replace(
            b"Message-ID: <dropped@mail.example.com>\r\n", b""
        )
        usecases.receive_email(raw, now=T0)
        ticket = Ticket.objects.get()
        assert InboundMail.objects.get().message_id.endswith("@inbound.invalid>")
        (ack,) = flushed(mail_sink)

        usecases.reply(ticket=ticket, author=agent, body="Which model?", now=T0 + M)

        (answer,) = flushed(mail_sink, now=T0 + M)
        assert answer["References"].split() == [mailthread.root_id(ticket), ack["Message-ID"]]
        assert answer["In-Reply-To"] == ack["Message-ID"]

    def test_a_long_thread_refers_to_the_root_and_the_latest_ids_only(self, customer, agent, mail_sink):
        ticket = opened_by_mail(message_id="<alice-0@mail.example.com>")
        for n in range(1, 16):
            usecases.reply(ticket=ticket, author=agent, body=f"Answer {n}.", now=T0 + (2 * n) * M)
            usecases.receive_email(
                compose(
                    subject="Re: x",
                    body=f"Mail {n}.",
                    message_id=f"<alice-{n}@mail.example.com>",
                    to=address_of(ticket),
                ),
                now=T0 + (2 * n + 1) * M,
            )
        flushed(mail_sink, now=T0 + 40 * M)

        usecases.reply(ticket=ticket, author=agent, body="The last answer.", now=T0 + 40 * M)

        (last,) = [
            m for m in flushed(mail_sink, now=T0 + 40 * M) if "The last answer." in m.get_body(("plain",)).get_content()
        ]
        references = last["References"].split()
        assert len(references) == mailthread.MAX_REFERENCES
        assert references[0] == mailthread.root_id(ticket)
        assert references[-1] == last["In-Reply-To"] == "<alice-15@mail.example.com>"
        assert "<alice-0@mail.example.com>" not in references  # the oldest fell off


def address_of(ticket: Ticket) -> str:
    return f"support+{ticket.reference.lower()}@sofacoverpro.com"
