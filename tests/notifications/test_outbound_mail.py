"""Outbound mail for the conversation (issue 12), sent by the relay to a real SMTP sink (aiosmtpd on
127.0.0.1) and read back with the ``email`` module the way a mail client reads it: threading headers,
the reference in the subject, Reply-To, Auto-Submitted, alternatives, attachments, CCs, resolution notes,
customer-reply alerts, and the look-up an inbound reply uses to find its ticket."""

from __future__ import annotations

import email.utils
from datetime import timedelta
from email.message import EmailMessage

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from notifications import mailthread, messages, relay, selectors
from notifications.models import CommunicationTemplate, Notification
from support import usecases
from tests.notifications.servers import free_port, smtp_server
from tests.tickets.factories import T0, make_user
from tests.tickets.files import png_bytes
from tickets import uploads
from tickets.models import Ticket, TicketCc

Kind = Notification.Kind
H = timedelta(hours=1)
CANARY = "CANARY-internal-note-5d1c"

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink(settings):
    """Every mail the relay sends, as received by an SMTP server on loopback."""
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 3
    settings.EMAIL_USE_TLS = False
    controller, received = smtp_server(port)
    controller.start()
    yield received
    controller.stop()


def flush(now) -> None:
    result = relay.outbox_flush(now=now)  # (Slack and SMS have no destination here: those rows are skipped)
    assert result.dead == result.retrying == 0, str(result)


def to(mails: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [mail for mail in mails if mail["To"] == address]


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return body.get_content()


def file_ticket(requester, **kwargs) -> Ticket:
    values = {"subject": "Zip on the cover broke", "description": "The zip broke on day two.", "now": T0}
    return usecases.file_ticket(requester=requester, **{**values, **kwargs})


def thread_of(mails: list[EmailMessage]) -> dict[str, str | None]:
    """What a threading client (RFC 5322 References, as Thunderbird does it) makes of the mails:
    each mail's parent is the last id of its References it has seen, else it starts a thread."""
    seen = {mail["Message-ID"] for mail in mails}
    parents = {}
    for mail in mails:
        refs = mail["References"].split() if mail["References"] else []
        known = [ref for ref in refs if ref in seen]
        parents[mail["Message-ID"]] = known[-1] if known else None
    return parents


class TestAConversationThreadsInAStandardClient:
    def test_acknowledgment_replies_resolution_and_survey_form_one_thread(self, sink, customer, agent):
        ticket = file_ticket(customer)
        usecases.reply(ticket=ticket, author=agent, body="Sorry about that: a new zip is on its way.", now=T0 + H)
        usecases.reply(ticket=ticket, author=agent, body=f"{CANARY} courier is slow", internal=True, now=T0 + H)
        usecases.reply(ticket=ticket, author=customer, body="Thanks, I will wait.", now=T0 + 2 * H)
        usecases.reply(ticket=ticket, author=agent, body="It was delivered this morning.", now=T0 + 3 * H)
        usecases.resolve(ticket=ticket, actor=agent, now=T0 + 4 * H, resolution_note="A new zip was sent and fitted.")
        flush(T0 + 5 * H)

        mails = to(sink.messages, customer.email)
        kinds = [Notification.objects.get(message_id=mail["Message-ID"]).kind for mail in mails]
        assert kinds == [Kind.ACKNOWLEDGMENT, Kind.REPLY, Kind.REPLY, Kind.RESOLUTION, Kind.RESOLUTION]  # + survey
        ids = [mail["Message-ID"] for mail in mails]
        assert len(set(ids)) == len(ids)
        assert all(mid.startswith("<") and mid.endswith("@desk.sofacoverpro.com>") for mid in ids)
        root = f"<{str(ticket.reference).lower()}@desk.sofacoverpro.com>"
        for n, mail in enumerate(mails):
            # The References chain: the ticket's root, then every earlier mail of the thread, in order.
            assert mail["References"].split() == [root, *ids[:n]]
            assert mail["In-Reply-To"] == ([root, *ids[:n]])[-1]
            assert f"[{ticket.reference}]" in mail["Subject"]
            assert mail["Reply-To"] == f"support+{str(ticket.reference).lower()}@sofacoverpro.com"
            assert mail.get_body(("plain",)) is not None
            assert mail.get_body(("html",)) is not None
            assert CANARY not in mail.as_string()  # the internal note reaches no mail
        # A client threads them as one conversation, each answering the one before.
        assert thread_of(mails) == {ids[0]: None, **{ids[n]: ids[n - 1] for n in range(1, len(ids))}}
        # Automatic mail says so; the agents' replies, written by people, do not.
        automatic = "auto-generated"
        assert [mail["Auto-Submitted"] for mail in mails] == [automatic, None, None, automatic, automatic]
        assert mails[1]["Subject"] == f"Re: [{ticket.reference}] {ticket.subject}"
        assert "a new zip is on its way." in text_of(mails[1])
        assert "Resolution: A new zip was sent and fitted." in text_of(mails[3])

    def test_the_customers_own_message_and_an_internal_note_are_never_mailed_to_them(self, sink, customer, agent):
        ticket = file_ticket(customer)
        flush(T0)
        sink.messages.clear()
        usecases.reply(ticket=ticket, author=agent, body=f"{CANARY} check the warehouse", internal=True, now=T0 + H)
        usecases.reply(ticket=ticket, author=customer, body="Any news?", now=T0 + 2 * H)
        flush(T0 + 3 * H)
        assert to(sink.messages, customer.email) == []
        assert not Notification.objects.filter(kind=Kind.REPLY).exists()
        assert all(CANARY not in mail.as_string() for mail in sink.messages)

    def test_the_reply_mail_service_sends_no_note_whoever_calls_it(self, customer, agent):
        from notifications import services

        ticket = file_ticket(customer)
        usecases.cc_add(ticket=ticket, email="partner@example.net", actor=agent, now=T0)
        note = usecases.reply(ticket=ticket, author=agent, body=CANARY, internal=True, now=T0)
        assert services.on_agent_reply(message=note, now=T0) == 0
        assert not Notification.objects.filter(kind=Kind.REPLY).exists()

    def test_a_recipient_added_later_starts_their_thread_at_the_tickets_root(self, sink, customer, agent):
        ticket = file_ticket(customer)
        usecases.cc_add(ticket=ticket, email="partner@example.net", actor=agent, now=T0)
        usecases.reply(ticket=ticket, author=agent, body="First answer.", now=T0 + H)
        usecases.reply(ticket=ticket, author=agent, body="Second answer.", now=T0 + 2 * H)
        flush(T0 + 3 * H)
        first, second = to(sink.messages, "partner@example.net")
        root = mailthread.root_id(ticket)
        assert first["References"].split() == [root]
        assert second["References"].split() == [root, first["Message-ID"]]


class TestAttachments:
    def test_a_replys_files_are_attached_up_to_the_cap_and_linked_beyond(self, sink, customer, agent, settings):
        small, large = png_bytes(), png_bytes(padding=4000)
        settings.NOTIFY_EMAIL_ATTACHMENTS_MAX_BYTES = len(small) + 100
        ticket = file_ticket(customer)
        files = uploads.check_uploads([SimpleUploadedFile("photo.png", small), SimpleUploadedFile("scan.png", large)])
        usecases.reply(ticket=ticket, author=agent, body="See the photos.", attachments=files, now=T0 + H)
        flush(T0 + H)

        (mail,) = [m for m in to(sink.messages, customer.email) if m["Subject"].startswith("Re:")]
        attached = list(mail.iter_attachments())
        assert [(part.get_filename(), part.get_content_type()) for part in attached] == [("photo.png", "image/png")]
        assert attached[0].get_content() == small
        text = text_of(mail)
        assert "scan.png" in text
        assert "Too large to attach" in text
        link = next(word for word in text.split() if "/mail/attachments/" in word)
        html = mail.get_body(("html",))
        assert html is not None
        assert link in html.get_content()

        path = link.split("127.0.0.1:8000", 1)[1] if "127.0.0.1:8000" in link else link[link.index("/mail/") :]
        client = Client()  # no account: a CC'd person can follow the link too
        with time_machine.travel(T0 + 2 * H, tick=False):
            response = client.get(path)
            assert response.status_code == 200
            assert response.getvalue() == large
            assert response["Content-Disposition"].startswith("attachment")
            assert client.get(path[:-3] + "xx/").status_code == 404  # altered
        with time_machine.travel(T0 + timedelta(days=31), tick=False):
            assert client.get(path).status_code == 410  # expired

    def test_the_files_of_an_internal_note_are_never_linked(self, customer, agent):
        from notifications import links

        ticket = file_ticket(customer)
        note = usecases.reply(
            ticket=ticket,
            author=agent,
            body="trace",
            internal=True,
            attachments=uploads.check_uploads([SimpleUploadedFile("trace.png", png_bytes())]),
            now=T0,
        )
        link = links.attachment_link(note.attachments.get(), now=T0)
        with time_machine.travel(T0 + H, tick=False):
            assert Client().get(link[link.index("/mail/") :]).status_code == 404


class TestCc:
    def test_ccd_people_get_public_replies_in_mails_of_their_own(self, sink, customer, other_customer, agent):
        ticket = file_ticket(customer)
        other = file_ticket(other_customer, subject="Wrong colour")
        usecases.cc_add(ticket=ticket, email="Partner@Example.NET ", actor=agent, now=T0)
        usecases.cc_add(ticket=ticket, email="neighbour@example.org", actor=agent, now=T0)
        usecases.reply(ticket=ticket, author=agent, body="We are on it.", now=T0 + H)
        usecases.reply(ticket=other, author=agent, body="Another customer's answer.", now=T0 + H)
        flush(T0 + H)

        replies = [m for m in sink.messages if m["Subject"].startswith("Re:")]
        assert sorted(m["To"] for m in replies) == sorted(
            [customer.email, "partner@example.net", "neighbour@example.org", other_customer.email]
        )
        for mail in replies:
            assert mail["Cc"] is None
            assert mail["Bcc"] is None
            others = {customer.email, other_customer.email, "partner@example.net", "neighbour@example.org"}
            headers = "\n".join(f"{k}: {v}" for k, v in mail.items())
            assert not [address for address in others - {mail["To"]} if address in headers]
        # Nobody copied on one ticket hears about another customer's.
        assert all(other.reference not in m["Subject"] for m in replies if m["To"] != other_customer.email)

    def test_ccd_people_hear_of_the_resolution_in_their_own_thread(self, sink, customer, agent):
        ticket = file_ticket(customer)
        usecases.cc_add(ticket=ticket, email="partner@example.net", actor=agent, now=T0)
        usecases.reply(ticket=ticket, author=agent, body="We are on it.", now=T0 + H)
        usecases.resolve(ticket=ticket, actor=agent, now=T0 + 2 * H)
        flush(T0 + 2 * H)

        reply, resolution = to(sink.messages, "partner@example.net")
        assert resolution["Subject"] == f"[{ticket.reference}] Resolved: Zip on the cover broke"
        assert resolution["Cc"] is None
        assert resolution["In-Reply-To"] == reply["Message-ID"]  # their thread: the reply they got, then this
        assert resolution["Auto-Submitted"] == "auto-generated"
        # The requester's notice is their own mail, not a copy: one each.
        assert len([m for m in to(sink.messages, customer.email) if "Resolved:" in m["Subject"]]) == 1

    def test_a_removed_cc_gets_no_more_replies(self, sink, customer, agent):
        ticket = file_ticket(customer)
        usecases.cc_add(ticket=ticket, email="partner@example.net", actor=agent, now=T0)
        assert usecases.cc_remove(ticket=ticket, email="partner@example.net", actor=agent, now=T0 + H)
        usecases.reply(ticket=ticket, author=agent, body="Done.", now=T0 + 2 * H)
        flush(T0 + 2 * H)
        assert to(sink.messages, "partner@example.net") == []

    @pytest.mark.parametrize(
        "address",
        ["alice@example.com", "not-an-address", "support@sofacoverpro.com", "support+scp-000001@sofacoverpro.com"],
    )
    def test_the_requester_the_desk_and_non_addresses_are_refused(self, customer, agent, address):
        from tickets.services import CcRefused

        ticket = file_ticket(customer)
        with pytest.raises(CcRefused) as refused:
            usecases.cc_add(ticket=ticket, email=address, actor=agent, now=T0)
        assert refused.value.field == "email"
        assert not TicketCc.objects.exists()

    def test_the_gateway_adds_without_a_person_and_the_timeline_keeps_it_internal(self, customer):
        from tickets.models import TicketEvent

        ticket = file_ticket(customer)
        cc = usecases.cc_add(ticket=ticket, email="partner@example.net", actor=None, now=T0)
        assert usecases.cc_add(ticket=ticket, email="PARTNER@example.net", actor=None, now=T0) == cc
        event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CC_ADDED)
        assert (event.internal, event.new_value, event.actor) == (True, "partner@example.net", None)

    def test_agents_manage_ccs_through_the_api(self, customer, other_customer, agent, api_client_for):
        ticket = file_ticket(customer)
        url = f"/api/v1/tickets/{ticket.reference}/cc/"
        api = api_client_for(agent)
        created = api.post(url, {"email": "partner@example.net"}, format="json")
        assert created.status_code == 201, created.content
        assert created.json()["email"] == "partner@example.net"
        assert [row["email"] for row in api.get(url).json()] == ["partner@example.net"]
        refused = api.post(url, {"email": customer.email}, format="json")
        assert refused.status_code == 400
        assert "email" in refused.json()
        assert api.post(url, {"email": "nope"}, format="json").status_code == 400
        assert api_client_for(customer).get(url).status_code == 403
        assert api_client_for(customer).post(url, {"email": "x@example.net"}, format="json").status_code == 403
        assert api_client_for(other_customer).get(url).status_code == 404
        assert api.delete(f"{url}partner@example.net/").status_code == 204
        assert api.delete(f"{url}partner@example.net/").status_code == 404
        assert api.get(url).json() == []

    def test_agents_manage_ccs_on_the_console_ticket_page(self, customer, agent):
        ticket = file_ticket(customer)
        client = Client()
        client.force_login(agent)
        added = client.post(f"/console/tickets/{ticket.reference}/cc/add/", {"email": "partner@example.net"})
        assert added.status_code == 302
        page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
        assert 'id="cc"' in page
        assert "partner@example.net" in page
        assert client.post(f"/console/tickets/{ticket.reference}/cc/add/", {"email": "bad"}).status_code == 302
        client.post(f"/console/tickets/{ticket.reference}/cc/remove/", {"email": "partner@example.net"})
        assert not TicketCc.objects.filter(ticket=ticket).exists()
        outsider = Client()
        outsider.force_login(customer)
        assert (
            outsider.post(f"/console/tickets/{ticket.reference}/cc/add/", {"email": "x@example.net"}).status_code == 403
        )


class TestResolutionNote:
    def test_the_api_refuses_to_resolve_a_p1_without_a_note(self, customer, agent, api_client_for):
        ticket = file_ticket(customer, priority="P1")
        url = f"/api/v1/tickets/{ticket.reference}/resolve/"
        refused = api_client_for(agent).post(url, {}, format="json")
        assert refused.status_code == 400
        assert refused.json()["resolution_note"] == [refused.json()["message"]]
        assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.NEW
        done = api_client_for(agent).post(url, {"resolution_note": "Rebooted the payment worker."}, format="json")
        assert done.status_code == 200
        assert done.json()["resolution_note"] == "Rebooted the payment worker."
        notice = Notification.objects.get(ticket=ticket, kind=Kind.RESOLUTION, dedupe_key__startswith="resolved:")
        assert "Resolution: Rebooted the payment worker." in notice.body

    def test_a_p2_needs_no_note_and_a_requester_never_does(self, customer, agent, api_client_for):
        p2 = file_ticket(customer)
        assert api_client_for(agent).post(f"/api/v1/tickets/{p2.reference}/resolve/").status_code == 200
        p0 = file_ticket(customer, priority="P0")
        assert api_client_for(customer).post(f"/api/v1/tickets/{p0.reference}/resolve/").status_code == 200

    def test_the_api_patch_to_resolved_needs_the_note_too(self, customer, agent, api_client_for):
        ticket = file_ticket(customer, priority="P0")
        url = f"/api/v1/tickets/{ticket.reference}/"
        refused = api_client_for(agent).patch(url, {"status": "resolved"}, format="json")
        assert refused.status_code == 400
        assert "resolution_note" in refused.json()
        done = api_client_for(agent).patch(url, {"status": "resolved", "resolution_note": "Failover."}, format="json")
        assert done.status_code == 200
        assert done.json()["resolution_note"] == "Failover."
        reopened = api_client_for(agent).post(f"/api/v1/tickets/{ticket.reference}/reopen/")
        assert reopened.json()["resolution_note"] == ""  # the next resolution says its own

    def test_the_console_form_asks_for_the_note_before_resolving_a_p1(self, customer, agent):
        ticket = file_ticket(customer, priority="P1")
        client = Client()
        client.force_login(agent)
        url = f"/admin/tickets/ticket/{ticket.pk}/change/"
        form = {"subject": ticket.subject, "priority": "P1", "status": "resolved", "tier": "1", "category": "other"}
        page = client.post(url, {**form, "resolution_note": ""})
        assert page.status_code == 200
        assert "Say how this P1 ticket was resolved" in page.content.decode()
        assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.NEW
        assert client.post(url, {**form, "resolution_note": "Cleared the cache."}).status_code == 302
        ticket.refresh_from_db()
        assert (ticket.status, ticket.resolution_note) == (Ticket.Status.RESOLVED, "Cleared the cache.")

    def test_the_consoles_bulk_resolve_refuses_a_p1_and_says_why(self, customer, agent):
        ticket = file_ticket(customer, priority="P1")
        client = Client()
        client.force_login(agent)
        page = client.post(
            "/admin/tickets/ticket/", {"action": "resolve_tickets", "_selected_action": [ticket.pk]}, follow=True
        )
        assert "resolution note" in page.content.decode()
        assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.NEW

    def test_an_agent_resolving_from_the_portal_page_gives_the_note(self, customer, agent):
        ticket = file_ticket(customer, priority="P1")
        client = Client()
        client.force_login(agent)
        url = f"/tickets/{ticket.reference}/resolve/"
        refused = client.post(url, {})
        assert refused.status_code == 400
        assert "Say how this P1 ticket was resolved" in refused.content.decode()
        assert client.post(url, {"resolution_note": "Replaced the part."}).status_code == 302
        assert Ticket.objects.get(pk=ticket.pk).resolution_note == "Replaced the part."


class TestCustomerReplies:
    def test_the_assignee_hears_on_the_dashboard_and_by_mail(self, sink, customer, agent):
        colleague = make_user("colleague@sofacoverpro.com", "agent", tier=1)
        ticket = file_ticket(customer, priority="P1")
        usecases.assign(ticket=ticket, assignee=agent, actor=agent, now=T0)
        flush(T0)
        sink.messages.clear()
        usecases.reply(ticket=ticket, author=customer, body="It broke again.", now=T0 + H)
        flush(T0 + H)
        (mail,) = sink.messages
        assert mail["To"] == agent.email
        assert ticket.reference in mail["Subject"]
        assert "It broke again." in text_of(mail)
        assert mail["Auto-Submitted"] == "auto-generated"
        (item,) = selectors.dashboard_feed_for(user=agent).filter(kind=Kind.CUSTOMER_REPLY)
        assert item.reply is not None
        assert item.reply.body == "It broke again."
        assert not selectors.dashboard_feed_for(user=colleague).filter(kind=Kind.CUSTOMER_REPLY).exists()

    def test_an_unassigned_tickets_tier_hears(self, sink, customer, agent, tier2_agent):
        colleague = make_user("colleague@sofacoverpro.com", "agent", tier=1)
        ticket = file_ticket(customer, priority="P1")
        usecases.reply(ticket=ticket, author=customer, body="Hello?", now=T0 + H)
        rows = Notification.objects.filter(kind=Kind.CUSTOMER_REPLY)
        assert sorted(rows.values_list("channel", "recipient")) == sorted(
            (channel, person.email) for channel in ("dashboard", "email") for person in (agent, colleague)
        )

    def test_an_agents_reply_alerts_nobody(self, customer, agent):
        ticket = file_ticket(customer)
        usecases.reply(ticket=ticket, author=agent, body="Answer.", now=T0 + H)
        assert not Notification.objects.filter(kind=Kind.CUSTOMER_REPLY).exists()


class TestFindingTheTicketOfAnInboundReply:
    def test_a_reply_to_any_mail_of_the_thread_finds_its_ticket(self, customer, agent):
        ticket = file_ticket(customer)
        other = file_ticket(customer, subject="Another")
        usecases.reply(ticket=ticket, author=agent, body="Answer.", now=T0 + H)
        sent = Notification.objects.get(ticket=ticket, kind=Kind.REPLY)
        assert selectors.ticket_for_message_ids([sent.message_id]) == ticket
        assert selectors.ticket_for_message_ids([sent.message_id.strip("<>")]) == ticket  # brackets optional
        assert selectors.ticket_for_message_ids(["<foreign@mail.example>", mailthread.root_id(other)]) == other
        # In-Reply-To first: the first id that is ours decides.
        ack = Notification.objects.get(ticket=other, kind=Kind.ACKNOWLEDGMENT)
        assert selectors.ticket_for_message_ids([ack.message_id, sent.message_id]) == other

    def test_ids_that_are_not_ours_find_nothing(self, customer):
        file_ticket(customer)
        assert selectors.ticket_for_message_ids([]) is None
        assert selectors.ticket_for_message_ids(["<scp-000001@elsewhere.example>", email.utils.make_msgid()]) is None

    def test_the_reply_address_names_the_ticket(self, customer):
        ticket = file_ticket(customer)
        address = mailthread.reply_address(ticket)
        assert mailthread.reference_from_address(address) == ticket.reference
        assert mailthread.reference_from_address(address.upper()) == ticket.reference
        assert mailthread.reference_from_address("support@sofacoverpro.com") is None
        assert mailthread.reference_from_address(f"other+{ticket.reference}@sofacoverpro.com") is None


def test_the_seeded_ticket_templates_are_the_ones_the_code_falls_back_to():
    for key in ("ticket_acknowledgment", "ticket_resolution"):
        stored = CommunicationTemplate.objects.get(key=key)
        assert (stored.subject, stored.body_text) == messages.SEED[key]
        stored.full_clean()


class TestReferencesFrom:
    """mailthread.references_from: the thread of the next mail to one recipient, from what was sent and received."""

    ROOT = "<scp-000001@desk.sofacoverpro.com>"

    def test_without_mail_from_them_it_follows_the_desks_latest(self):
        sent = [("<a@desk>", T0), ("<b@desk>", T0 + H)]
        assert mailthread.references_from(self.ROOT, sent=sent, received=[]) == [self.ROOT, "<a@desk>", "<b@desk>"]

    def test_it_answers_their_latest_mail_and_leaves_out_the_desks_mail_after_it(self):
        received = [("<c1@client>", T0), ("<c2@client>", T0 + 2 * H)]
        sent = [("<ack@desk>", T0), ("<r1@desk>", T0 + H), ("<r2@desk>", T0 + 3 * H)]

        refs = mailthread.references_from(self.ROOT, sent=sent, received=received)

        # Their first mail and the acknowledgment of the same moment: the acknowledgment answers it.
        assert refs == [self.ROOT, "<c1@client>", "<ack@desk>", "<r1@desk>", "<c2@client>"]

    def test_it_keeps_the_root_and_the_latest_ids(self):
        received = [(f"<c{n}@client>", T0 + n * H) for n in range(40)]

        refs = mailthread.references_from(self.ROOT, sent=[], received=received)

        assert refs == [self.ROOT, *[f"<c{n}@client>" for n in range(21, 40)]]
        assert len(refs) == mailthread.MAX_REFERENCES


class TestTheHtmlPart:
    """The text/html alternative of the real message the relay sends: the reply's own words escaped
    once (what the customer typed shows as typed, never as markup), the paragraphs around them real."""

    BODY = "Thanks for waiting.\n\nThe <b>new</b> zip ships **today**: A & B.\n<script>alert(1)</script>"

    def test_a_replys_paragraphs_are_tags_and_what_it_says_is_escaped_once(self, customer, agent):
        from notifications import delivery

        ticket = file_ticket(customer)
        usecases.reply(ticket=ticket, author=agent, body=self.BODY, now=T0 + H)
        row = Notification.objects.get(kind=Kind.REPLY, recipient=customer.email)

        mail = delivery.build_email(row)
        ((html, mimetype),) = mail.alternatives
        assert mimetype == "text/html"
        assert isinstance(html, str)
        assert html.startswith("<p>Thanks for waiting.</p>\n\n<p>The &lt;b&gt;new&lt;/b&gt; zip ships **today**")
        assert "A &amp; B.<br>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in html
        assert "&lt;p&gt;" not in html
        assert "&amp;lt;" not in html
        assert "&amp;amp;" not in html
        assert "<script" not in html
        assert "<b>" not in html
        assert "<p>Tina<br>SofaCover Pro Support</p>" in html
        # The text part is the words as written, no markup added.
        assert mail.body.startswith(self.BODY + "\n\nTina\n")
        assert "<p>" not in mail.body
        assert "&lt;" not in mail.body
