"""A thread round-trips by email: portal ticket -> the customer answers the acknowledgment -> an agent
replies -> the customer answers from Gmail, Outlook and Apple Mail. Every mail goes through the real
SMTP listener; every stored body is what the customer wrote, without quoted history or signature."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from django.core import mail as django_mail

from inbound.models import InboundMail
from inbound.parsing import decode_payload
from inbound.text import html_to_text, strip_reply
from notifications import relay
from support import usecases
from tests.tickets.factories import T0, make_user
from tickets.models import Attachment, Ticket

from .conftest import smtp_send
from .mails import compose, fixture, new_message_id

CLIENT_REPLIES = {
    "gmail_reply.eml": "Hi,\n\nI cleared the cache as you said but the checkout page still shows the old\n"
    "price for the three-seater cover.",
    "outlook_reply.eml": "That fixed the price, thank you. The invoice PDF still shows £129 though.",
    "apple_reply.eml": "The new invoice is right. You can close this, thanks \N{THUMBS UP SIGN}",
}
QUOTED = ("wrote:", "From:", "Sent:", "Dear Alice", "> ", "Alice Smith", "Kind regards", "Sent from my iPhone")


def desk_mail_id(n: int) -> str:
    """A Message-ID as the desk's outbound mail has one (escalation.notifications: make_msgid on its domain)."""
    return f"<desk-{n}@desk.sofacoverpro.com>"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestThreadRoundTrip:
    def test_portal_ticket_then_email_replies_from_three_clients(self, gateway):
        alice, agent = make_user("alice@example.com", first_name="Alice"), make_user("t1@sofacoverpro.com", "agent")
        ticket = usecases.file_ticket(
            requester=alice, subject="Checkout shows the old price", description="The price is wrong.", now=T0
        )
        relay.outbox_flush(now=T0)
        (ack,) = [m for m in django_mail.outbox if m.to == ["alice@example.com"]]
        ack_id, thread = ack.extra_headers["Message-ID"], ack.extra_headers["References"]

        # 1. Alice answers the acknowledgment from a plain client: In-Reply-To the ack, no reference in the subject.
        first_reply = new_message_id()
        code, _ = smtp_send(
            gateway,
            compose(
                subject=f"Re: {ack.subject}",
                body="Yes, it is still wrong on the checkout page.\n\nOn Tue, Support wrote:\n> Dear Alice",
                message_id=first_reply,
                in_reply_to=ack_id,
                references=f"{thread} {ack_id}",
            ),
        )
        assert code == 250

        # 2. An agent replies (the desk's mail of it carries the thread in References).
        usecases.reply(ticket=ticket, author=agent, body="Please clear your cache.", now=T0 + timedelta(hours=1))
        chain = [thread, ack_id, first_reply, desk_mail_id(1)]

        # 3. Alice answers from Gmail, then Outlook, then Apple Mail, each to the desk's latest mail.
        for n, name in enumerate(CLIENT_REPLIES, start=1):
            own_id = new_message_id(domain="mail.gmail.com")
            raw = fixture(
                name,
                message_id=own_id,
                in_reply_to=chain[-1],
                references=" ".join(chain),
                subject="RE: Checkout shows the old price",
            )
            assert smtp_send(gateway, raw)[0] == 250
            chain += [own_id, desk_mail_id(n + 1)]

        assert Ticket.objects.count() == 1
        from_alice = ticket.messages.filter(by_agent=False).order_by("created_at", "id")
        bodies = list(from_alice.values_list("body", flat=True))
        assert bodies == [
            "Yes, it is still wrong on the checkout page.",
            *CLIENT_REPLIES.values(),
        ]
        for body in bodies:
            assert not any(marker in body for marker in QUOTED), body
        assert set(InboundMail.objects.values_list("outcome", flat=True)) == {"replied"}
        originals = Attachment.objects.filter(filename="original-message.eml", message__ticket=ticket)
        assert originals.count() == InboundMail.objects.count() == 4


class TestClientStyles:
    @pytest.mark.parametrize("name", CLIENT_REPLIES)
    def test_the_html_part_alone_gives_the_same_words(self, name):
        raw = fixture(name, message_id="<a@b>", in_reply_to="<c@d>", references="<c@d>", subject="Re: x")
        (html,) = [p for p in message_from_bytes(raw, policy=default).walk() if p.get_content_type() == "text/html"]

        text = strip_reply(html_to_text(decode_payload(html)))

        assert " ".join(text.split()) == " ".join(CLIENT_REPLIES[name].split())
