"""Inbound mail joined with the desk's outbound mail: its Message-IDs, its reply address, its CC list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbound.models import InboundMail
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
