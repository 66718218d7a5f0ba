"""A thread round-trips by email: portal ticket -> the customer answers the acknowledgment -> an agent
replies -> the customer answers from Gmail, Outlook and Apple Mail, the agent each time -> resolution.
Every mail goes over real SMTP: the customer's to the desk's listener, the desk's to a sink; every stored
body is what the customer wrote, without quoted history or signature, and every mail of the desk's sits
under the customer's mail it answers."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from django.utils import timezone

from inbound.models import InboundMail
from inbound.parsing import decode_payload
from inbound.text import html_to_text, strip_reply
from notifications import relay
from notifications.models import Notification
from support import usecases
from tests.notifications.servers import MailSink
from tests.tickets.factories import make_user
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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestThreadRoundTrip:
    def test_portal_ticket_then_email_replies_from_three_clients_and_the_resolution(self, gateway, mail_sink):
        """Every mail both ways over SMTP: the desk's to a sink (aiosmtpd), read back with the email module.

        Each of the desk's answers is threaded as RFC 5322 says a reply is: In-Reply-To Alice's mail,
        References her mail's References followed by its Message-ID, so her client shows it under her mail.
        """
        alice, agent = make_user("alice@example.com", first_name="Alice"), make_user("t1@sofacoverpro.com", "agent")
        ticket = usecases.file_ticket(
            requester=alice, subject="Checkout shows the old price", description="The price is wrong.", now=now()
        )
        (ack,) = sent_to_alice(mail_sink)
        root = ack["References"]
        assert root == f"<{ticket.reference.lower()}@desk.sofacoverpro.com>"

        # 1. Alice answers the acknowledgment from a plain client: In-Reply-To the ack, no reference in the subject.
        first_reply = new_message_id()
        references = [root, ack["Message-ID"]]
        code, _ = smtp_send(
            gateway,
            compose(
                subject="Re: the price",
                body="Yes, it is still wrong on the checkout page.\n\nOn Tue, Support wrote:\n> Dear Alice",
                message_id=first_reply,
                in_reply_to=ack["Message-ID"],
                references=" ".join(references),
            ),
        )
        assert code == 250
        theirs = {"id": first_reply, "references": references}

        # 2. An agent replies; 3. Alice answers from Gmail, Outlook, Apple Mail, each to the desk's latest
        # mail, and the agent answers each but the last; 4. the agent resolves.
        answers = []
        for n, name in enumerate([*CLIENT_REPLIES, None]):
            if name is None:
                usecases.resolve(ticket=ticket, actor=agent, now=now(), resolution_note="The price is fixed.")
                resolution, survey = sent_to_alice(mail_sink)
                assert Notification.objects.get(message_id=resolution["Message-ID"]).kind == "resolution"
                answer = resolution
            else:
                usecases.reply(ticket=ticket, author=agent, body=f"Answer {n + 1}.", now=now())
                (answer,) = sent_to_alice(mail_sink)
            # The desk's mail answers the customer's latest mail, as her client threads a reply to it.
            assert answer["In-Reply-To"] == theirs["id"]
            assert answer["References"].split() == [*theirs["references"], theirs["id"]]
            answers.append(answer)
            if name is None:
                break
            own_id = new_message_id(domain="mail.gmail.com")
            references = [*answer["References"].split(), answer["Message-ID"]]
            raw = fixture(
                name,
                message_id=own_id,
                in_reply_to=answer["Message-ID"],
                references=" ".join(references),
                subject="RE: Checkout shows the old price",
            )
            assert smtp_send(gateway, raw)[0] == 250
            theirs = {"id": own_id, "references": references}

        # Her client (threading by References, as Thunderbird does) shows one conversation.
        assert len(answers) == 4
        assert all(answer["References"].split()[0] == root for answer in [*answers, survey])
        assert survey["In-Reply-To"] == theirs["id"]
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


def now() -> datetime:
    """The desk's clock: the gateway reads the real one as mail arrives, so the test's steps do too."""
    return timezone.now()


def sent_to_alice(sink: MailSink) -> list[EmailMessage]:
    """What the relay sends now, as the sink received it; the sink is emptied."""
    result = relay.outbox_flush(now=now())
    assert result.dead == result.retrying == 0, str(result)
    mails = [mail for mail in sink.messages if mail["To"] == "alice@example.com"]
    sink.messages.clear()
    return mails


class TestClientStyles:
    @pytest.mark.parametrize("name", CLIENT_REPLIES)
    def test_the_html_part_alone_gives_the_same_words(self, name):
        raw = fixture(name, message_id="<a@b>", in_reply_to="<c@d>", references="<c@d>", subject="Re: x")
        (html,) = [p for p in message_from_bytes(raw, policy=default).walk() if p.get_content_type() == "text/html"]

        text = strip_reply(html_to_text(decode_payload(html)))

        assert " ".join(text.split()) == " ".join(CLIENT_REPLIES[name].split())
