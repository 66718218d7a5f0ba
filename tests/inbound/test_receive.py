"""The receive_email use case: what a message becomes (support.usecases.receive_email)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection

from inbound.models import InboundMail
from inbound.parsing import MalformedMail
from inbound.services import UnknownSender
from notifications.models import Notification
from support import usecases
from tests.tickets.factories import T0
from tests.tickets.files import png_bytes
from tickets.models import Ticket

from .mails import compose, new_message_id

pytestmark = pytest.mark.django_db
Outcome = InboundMail.Outcome


def receive(raw: bytes, now=T0):
    return usecases.receive_email(raw, now=now)


class TestANewMessage:
    def test_from_a_known_customer_opens_an_email_ticket_and_acknowledges_it(self, customer):
        receipt = receive(compose(subject="Cover too small", body="The cover is too small.\n\n-- \nAlice"))

        ticket = Ticket.objects.get()
        assert (receipt.outcome, receipt.ticket_reference) == (Outcome.OPENED, ticket.reference)
        assert (ticket.requester, ticket.channel, ticket.subject) == (customer, "email", "Cover too small")
        assert ticket.description == "The cover is too small."
        assert Notification.objects.filter(kind="acknowledgment", recipient="alice@example.com").count() == 1

    def test_keeps_the_original_as_an_eml_attachment(self, customer):
        raw = compose()
        receive(raw)

        (attachment,) = Ticket.objects.get().messages.get().attachments.all()
        assert (attachment.filename, attachment.content_type) == ("original-message.eml", "message/rfc822")
        assert attachment.file.read() == raw

    def test_from_an_unknown_address_creates_an_inactive_customer(self, db):
        receive(compose(sender="Carol Jones <Carol@Example.org>"))

        carol = User.objects.get(username="carol@example.org")
        assert (carol.is_active, carol.has_usable_password(), carol.first_name) == (False, False, "Carol Jones")
        assert Ticket.objects.get().requester == carol

    def test_from_an_unknown_address_is_refused_when_the_setting_says_so(self, db, settings):
        settings.MAIL_UNKNOWN_SENDERS = "refuse"

        with pytest.raises(UnknownSender) as refused:
            receive(compose(sender="carol@example.org"))

        assert refused.value.smtp_reply.startswith("550 5.7.1")
        assert not User.objects.filter(username="carol@example.org").exists()
        assert not InboundMail.objects.exists()

    def test_delivered_twice_is_stored_once(self, customer):
        raw = compose()
        first, second = receive(raw), receive(raw, now=T0 + timedelta(minutes=5))

        assert (first.duplicate, second.duplicate) == (False, True)
        assert second.ticket_reference == first.ticket_reference
        assert Ticket.objects.count() == InboundMail.objects.count() == 1

    def test_without_a_sender_is_refused_as_malformed(self, db):
        with pytest.raises(MalformedMail):
            receive(b"Subject: hello\r\n\r\nbody\r\n")
        assert not InboundMail.objects.exists()


class TestAReply:
    def test_by_in_reply_to_a_stored_message_goes_on_its_ticket(self, customer):
        first_id = new_message_id()
        receive(compose(message_id=first_id))
        body = "More details.\n\nOn Mon, Alice wrote:\n> old"
        receipt = receive(compose(subject="Re: something else", body=body, in_reply_to=first_id))

        ticket = Ticket.objects.get()
        assert (receipt.outcome, receipt.ticket_reference) == (Outcome.REPLIED, ticket.reference)
        assert list(ticket.messages.values_list("body", flat=True)) == ["Attached with the request.", "More details."]

    def test_by_the_reference_in_the_subject(self, customer):
        receive(compose())
        ticket = Ticket.objects.get()

        receipt = receive(compose(subject=f"Re: [{ticket.reference}] My sofa"))

        assert receipt.outcome == Outcome.REPLIED

    def test_never_by_the_subject_text_alone(self, customer):
        receive(compose(subject="Cover too small"))

        receipt = receive(compose(subject="Re: Cover too small"))

        assert receipt.outcome == Outcome.OPENED
        assert Ticket.objects.count() == 2

    def test_to_a_resolved_ticket_reopens_it(self, customer, agent):
        receive(compose(subject="Broken"))
        ticket = Ticket.objects.get()
        usecases.resolve(ticket=ticket, actor=agent, now=T0 + timedelta(hours=1))

        receive(compose(subject=f"Re: {ticket.reference}", body="Still broken."), now=T0 + timedelta(hours=2))

        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.OPEN
        assert ticket.events.filter(kind="reopened").exists()

    def test_to_a_closed_ticket_opens_a_linked_follow_up(self, customer, agent):
        receive(compose(subject="Broken"))
        old = Ticket.objects.get()
        Ticket.objects.filter(pk=old.pk).update(status="closed", closed_at=T0)

        receipt = receive(compose(subject=f"Re: {old.reference} Broken", body="It broke again."))

        new = Ticket.objects.exclude(pk=old.pk).get()
        assert (receipt.outcome, receipt.ticket_reference) == (Outcome.FOLLOW_UP, new.reference)
        assert new.description == f"Follow-up to {old.reference}, which is closed.\n\nIt broke again."
        assert InboundMail.objects.get(ticket=new).follow_up_of == old

    def test_with_forged_references_to_another_customers_ticket_opens_its_own(self, customer, other_customer):
        receive(compose(sender="bob@example.com", subject="Bob's private problem"))
        bobs = Ticket.objects.get()
        thread_id = f"<{(bobs.reference or '').lower()}@desk.sofacoverpro.com>"

        receipt = receive(compose(subject=f"Re: {bobs.reference}", in_reply_to=thread_id, references=thread_id))

        assert receipt.ticket_reference != bobs.reference
        assert bobs.messages.count() == 1
        assert Ticket.objects.get(reference=receipt.ticket_reference).requester == customer


class TestTheSendersAccount:
    def test_can_be_activated_later_by_signing_up_with_the_address(self, client):
        from django.core import mail

        receive(compose(sender="Carol <carol@example.org>", subject="Hello"))

        client.post("/signup/", {"email": "carol@example.org", "name": "Carol", "password": "a-long-enough-passphrase"})

        (activation,) = [m for m in mail.outbox if "carol@example.org" in m.to]
        link = next(word for word in activation.body.split() if "/activate/" in word)
        client.post(link.removeprefix("http://127.0.0.1:8000"))
        carol = User.objects.get(username="carol@example.org")
        assert carol.is_active
        assert carol.check_password("a-long-enough-passphrase")
        assert Ticket.objects.get(requester=carol).subject == "Hello"


class TestAnAgentsMail:
    def test_on_a_ticket_in_scope_is_a_public_reply(self, customer, agent):
        receive(compose(subject="Broken"))
        ticket = Ticket.objects.get()

        receive(compose(sender="tier1@sofacoverpro.com", subject=f"Re: {ticket.reference}", body="Fixed now."))

        reply = ticket.messages.get(by_agent=True)
        assert (reply.body, reply.internal, reply.author) == ("Fixed now.", False, agent)

    def test_on_a_ticket_above_their_tier_is_kept_but_not_posted(self, customer, agent, tier2_agent):
        receive(compose(subject="Broken"))
        ticket = Ticket.objects.get()
        Ticket.objects.filter(pk=ticket.pk).update(tier=3)

        receipt = receive(compose(sender="tier1@sofacoverpro.com", subject=f"Re: {ticket.reference}", body="Hi"))

        assert receipt.outcome == Outcome.REFUSED
        assert "above yours" in receipt.note
        assert not ticket.messages.filter(by_agent=True).exists()
        assert InboundMail.objects.get(outcome=Outcome.REFUSED).raw


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's in-memory test database answers 'table is locked' instead of waiting; CI runs on PostgreSQL",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_message_arriving_twice_at_once_is_stored_once():
    """Two pollers (or SMTP and the webhook) taking the same message at the same moment: the
    unique Message-ID decides, in the database."""
    import threading

    from django.db import close_old_connections

    from tests.tickets.factories import make_user

    make_user("alice@example.com")
    raw, start = compose(), threading.Barrier(2)
    receipts = []

    def deliver():
        start.wait()
        try:
            receipts.append(receive(raw))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(receipt.duplicate for receipt in receipts) == [False, True]
    assert Ticket.objects.count() == InboundMail.objects.count() == 1


class TestStatementsPerMessage:
    """What one message costs the database, pinned: the gateway's throughput is these statements
    (bench_mail). Counted as Django sends them, savepoints included; the test's own transaction
    makes the use case's a savepoint (2 of the count) where the gateway's is BEGIN and COMMIT."""

    def test_a_new_request_from_a_customer(self, customer, agent, django_assert_max_num_queries):
        receive(compose(subject="First"))  # the sender's ledger row exists, as it does after a first mail
        raw = compose(subject="Second", attachments=[("photo.png", "image/png", png_bytes())])

        # The record (insert, read), the sender, the automatic-mail ledger (upsert, read, entry);
        # file_ticket in its savepoint: the ticket, its message, both attachments in one insert, the
        # events in one, the acknowledgment, the suggestions, the fact and the rollup; the outcome.
        # Nobody else to copy (the mail went to the desk alone): no statement for it.
        with django_assert_max_num_queries(2 + 18):
            receipt = receive(raw, now=T0 + timedelta(minutes=1))

        assert receipt.outcome == Outcome.OPENED
        assert Ticket.objects.get(subject="Second").messages.get().attachments.count() == 2

    def test_a_reply_to_the_desks_mail(self, customer, agent, django_assert_max_num_queries):
        receive(compose())
        ticket = Ticket.objects.get()
        usecases.reply(ticket=ticket, author=agent, body="Which model is it?", now=T0 + timedelta(minutes=1))
        sent = Notification.objects.get(kind="reply")
        raw = compose(subject="Re: x", body="The Oslo.", in_reply_to=sent.message_id, references=sent.references)

        # The record (2), the sender, the ticket of the desk's mail (1: the outbox joined to it);
        # reply in its savepoint: the ticket locked, the message, its .eml, the events, the
        # ticket touched, the clock (pauses, escalations, deadlines), the alert (route, the
        # tier's agents, their rows), the fact (2); the outcome.
        with django_assert_max_num_queries(2 + 20):
            receipt = receive(raw, now=T0 + timedelta(minutes=2))

        assert (receipt.outcome, receipt.ticket_reference) == (Outcome.REPLIED, ticket.reference)
        assert Notification.objects.filter(kind="customer_reply", recipient=agent.email).count() == 2
