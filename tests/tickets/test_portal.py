"""The customer portal, through the Django test client: pages, forms, rules, headers and query counts."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from support import usecases
from tests.tickets.factories import PASSWORD, T0, MessageFactory, TicketFactory
from tickets.models import Attachment, Message, Ticket
from tickets.uploads import check_upload

pytestmark = pytest.mark.django_db
Status = Ticket.Status

CANARY = "CANARY-internal-7f3a9c"
NEW_PASSWORD = "velvet-armchair-lantern-42"


def png_bytes(padding: int = 0) -> bytes:
    """A real 1x1 PNG (signature, IHDR, IDAT, IEND), optionally padded after IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"") + b"\x00" * padding


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def ticket_with_attachment(requester: User, name: str = "photo.png") -> Attachment:
    checked = check_upload(upload(name, png_bytes(), "image/png"))
    ticket = usecases.file_ticket(
        requester=requester, subject="Torn seam", description="See photo", attachments=[checked], now=T0
    )
    return Attachment.objects.get(message__ticket=ticket)


def new_ticket_data(**overrides) -> dict:
    return {
        "subject": "Cover shrank in the wash",
        "description": "It was washed at 30 degrees as the label says.",
        "priority": "P2",
        "category": "orders",
        **overrides,
    }


# --- my tickets --------------------------------------------------------------


class TestTicketList:
    def test_requires_login(self, client):
        response = client.get(reverse("portal:ticket-list"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login") + "?next=/tickets/")

    def test_shows_only_my_tickets(self, customer_client, customer, other_customer):
        mine = TicketFactory(requester=customer, subject="My grey cover")
        theirs = TicketFactory(requester=other_customer, subject="Bob's beige cover")
        content = customer_client.get(reverse("portal:ticket-list")).content.decode()
        assert mine.reference in content
        assert "My grey cover" in content
        assert theirs.reference not in content
        assert "beige" not in content

    def test_shows_status_and_priority_labels_and_the_desk_time(self, customer_client, customer):
        summer = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
        TicketFactory(requester=customer, priority="P1", created_at=summer, status=Status.RESOLVED)
        content = customer_client.get(reverse("portal:ticket-list")).content.decode()
        assert "P1 High" in content
        assert "Resolved" in content
        assert "1 Jul 2026, 10:00" in content  # Europe/London is on summer time

    def test_paginates(self, customer_client, customer):
        for _ in range(25):
            TicketFactory(requester=customer)
        first = customer_client.get(reverse("portal:ticket-list"))
        second = customer_client.get(reverse("portal:ticket-list") + "?page=2")
        assert len(first.context["tickets"]) == 20
        assert len(second.context["tickets"]) == 5
        assert b"Page 2 of 2" in second.content

    @pytest.mark.parametrize("count", [3, 30])
    def test_uses_a_constant_number_of_queries(self, customer_client, customer, django_assert_max_num_queries, count):
        for _ in range(count):
            TicketFactory(requester=customer)
        with django_assert_max_num_queries(4):
            response = customer_client.get(reverse("portal:ticket-list"))
        assert len(response.context["tickets"]) == min(count, 20)

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
    def test_reads_my_tickets_in_order_from_the_requester_urgency_index(
        self, customer_client, customer, other_customer
    ):
        for n in range(6):
            TicketFactory(requester=customer if n % 2 else other_customer)
        with CaptureQueriesContext(connection) as captured:
            customer_client.get(reverse("portal:ticket-list"))
        [page_sql] = [q["sql"] for q in captured.captured_queries if 'ORDER BY "tickets_ticket"' in q["sql"]]
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: make the planner show the index plan
            # With so few rows the planner may as well read the index as a bitmap and sort after; what this
            # pins is that the index can give the order: make every alternative to it dear.
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute(f"EXPLAIN {page_sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "ticket_requester_urgency_idx" in plan
        assert "Sort" not in plan


# --- filing a ticket ---------------------------------------------------------


class TestTicketNew:
    def test_shows_the_form_with_plain_language_priorities(self, customer_client):
        content = customer_client.get(reverse("portal:ticket-new")).content.decode()
        assert 'enctype="multipart/form-data"' in content
        assert "The shop is down" in content
        assert 'type="file"' in content
        assert "multiple" in content

    def test_files_a_ticket_and_redirects_to_it(self, customer_client, customer):
        response = customer_client.post(reverse("portal:ticket-new"), new_ticket_data(priority="P1"))
        ticket = Ticket.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:ticket-detail", kwargs={"reference": ticket.reference})
        assert ticket.requester == customer
        assert ticket.priority == "P1"
        assert ticket.channel == Ticket.Channel.PORTAL
        page = customer_client.get(response["Location"])
        assert f"Your ticket {ticket.reference} has been filed" in page.content.decode()

    def test_shows_field_errors_and_creates_nothing_for_missing_fields(self, customer_client):
        response = customer_client.post(reverse("portal:ticket-new"), new_ticket_data(subject="", priority="P9"))
        assert response.status_code == 400
        assert response.context["form"].errors.keys() == {"subject", "priority"}
        content = response.content.decode()
        assert 'aria-describedby="id_subject_helptext id_subject_error"' in content
        assert '<ul class="errorlist" id="id_subject_error">' in content
        assert Ticket.objects.count() == 0

    def test_accepts_a_png_attachment(self, customer_client):
        data = new_ticket_data(attachments=[upload("seam.png", png_bytes(), "image/png")])
        response = customer_client.post(reverse("portal:ticket-new"), data)
        assert response.status_code == 302
        attachment = Attachment.objects.get()
        assert attachment.filename == "seam.png"
        assert attachment.content_type == "image/png"
        page = customer_client.get(response["Location"]).content.decode()
        assert reverse("portal:attachment", kwargs={"uuid": attachment.uuid}) in page

    def test_accepts_several_files_at_once(self, customer_client):
        files = [
            upload("a.png", png_bytes(), "image/png"),
            upload("notes.txt", b"order 1234\n", "text/plain"),
        ]
        customer_client.post(reverse("portal:ticket-new"), new_ticket_data(attachments=files))
        assert sorted(Attachment.objects.values_list("filename", flat=True)) == ["a.png", "notes.txt"]

    @pytest.mark.parametrize(
        ("name", "content", "expected"),
        [
            ("page.html", b"<html><body>hi</body></html>", "this type of file is not accepted"),
            (
                "logo.svg",
                b'<svg xmlns="http://www.w3.org/2000/svg"></svg>',
                "this type of file is not accepted",
            ),
            (
                "photo.png",
                b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200,
                "does not contain what its name says",
            ),
        ],
    )
    def test_refuses_a_dangerous_file_with_a_field_error_and_creates_nothing(
        self, customer_client, name, content, expected
    ):
        data = new_ticket_data(attachments=[upload(name, content)])
        response = customer_client.post(reverse("portal:ticket-new"), data)
        assert response.status_code == 400
        errors = response.context["form"].errors["attachments"]
        assert any(expected in error for error in errors)
        assert expected in response.content.decode().replace("&#x27;", "'")
        assert Ticket.objects.count() == 0
        assert Attachment.objects.count() == 0

    def test_refuses_an_oversize_file(self, customer_client, settings):
        settings.ATTACHMENT_MAX_BYTES = 100
        data = new_ticket_data(attachments=[upload("big.png", png_bytes(padding=200), "image/png")])
        response = customer_client.post(reverse("portal:ticket-new"), data)
        assert response.status_code == 400
        assert "larger than the 100\xa0bytes limit" in response.context["form"].errors["attachments"][0]
        assert Ticket.objects.count() == 0

    def test_escapes_what_the_customer_wrote(self, customer_client):
        response = customer_client.post(
            reverse("portal:ticket-new"), new_ticket_data(subject="<script>alert(1)</script>"), follow=True
        )
        content = response.content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
        assert "<script>alert(1)" not in content


# --- the ticket page ------------------------------------------------------------


class TestTicketDetail:
    def test_shows_the_public_thread(self, customer_client, customer, agent):
        ticket = TicketFactory(requester=customer, description="The zip broke on day one.")
        MessageFactory(ticket=ticket, author=agent, body="We are sending a new zip.")
        content = customer_client.get(reverse("portal:ticket-detail", kwargs={"reference": ticket.reference}))
        content = content.content.decode()
        assert "The zip broke on day one." in content
        assert "We are sending a new zip." in content
        assert "Tina · SofaCover Pro Support" in content
        assert "Mark as solved" in content
        assert "Reopen" not in content

    def test_accepts_a_lowercase_reference(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)
        response = customer_client.get(f"/tickets/{ticket.reference}/".lower())
        assert response.status_code == 200

    def test_another_customers_ticket_is_not_found(self, customer_client, other_customer):
        ticket = TicketFactory(requester=other_customer)
        response = customer_client.get(reverse("portal:ticket-detail", kwargs={"reference": ticket.reference}))
        assert response.status_code == 404
        assert b"Page not found" in response.content

    def test_never_shows_internal_notes_to_the_requester(self, customer_client, customer, agent):
        ticket = TicketFactory(requester=customer)
        MessageFactory(ticket=ticket, author=agent, body=f"{CANARY} refund them quietly", internal=True)
        response = customer_client.get(reverse("portal:ticket-detail", kwargs={"reference": ticket.reference}))
        assert response.status_code == 200
        assert CANARY not in response.content.decode()

    def test_never_shows_internal_notes_to_agents_either(self, client, customer, agent):
        ticket = TicketFactory(requester=customer)
        MessageFactory(ticket=ticket, author=agent, body=f"{CANARY} check the CDN", internal=True)
        MessageFactory(ticket=ticket, author=agent, body="Public answer", internal=False)
        client.force_login(agent)
        content = client.get(reverse("portal:ticket-detail", kwargs={"reference": ticket.reference})).content
        assert b"Public answer" in content
        assert CANARY.encode() not in content

    @pytest.mark.parametrize("count", [2, 20])
    def test_uses_a_constant_number_of_queries(
        self, customer_client, customer, agent, django_assert_max_num_queries, count
    ):
        ticket = TicketFactory(requester=customer)
        checked = check_upload(upload("p.png", png_bytes(), "image/png"))
        for n in range(count):
            author = agent if n % 2 else customer
            usecases.reply(ticket=ticket, author=author, body=f"message {n}", attachments=[checked], now=T0)
        # 5 for the page, 1 for the panels of tickets.portal.extensions (the SLA panel reads the escalations).
        with django_assert_max_num_queries(6):
            response = customer_client.get(reverse("portal:ticket-detail", kwargs={"reference": ticket.reference}))
        assert response.content.decode().count("message ") >= count


class TestTicketReply:
    def _url(self, ticket: Ticket, action: str = "ticket-reply") -> str:
        return reverse(f"portal:{action}", kwargs={"reference": ticket.reference})

    def test_posts_a_public_message(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)
        response = customer_client.post(self._url(ticket), {"body": "Still broken."})
        assert response.status_code == 302
        message = Message.objects.get(ticket=ticket, body="Still broken.")
        assert message.author == customer
        assert not message.internal

    def test_reopens_a_resolved_ticket(self, customer_client, customer):
        ticket = TicketFactory(requester=customer, status=Status.RESOLVED)
        customer_client.post(self._url(ticket), {"body": "It happened again."})
        ticket.refresh_from_db()
        assert ticket.status == Status.OPEN

    def test_attaches_files_to_the_reply(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)
        customer_client.post(
            self._url(ticket), {"body": "", "attachments": [upload("x.png", png_bytes(), "image/png")]}
        )
        assert Attachment.objects.get().message.ticket == ticket

    def test_refuses_an_empty_reply(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)
        response = customer_client.post(self._url(ticket), {"body": "  "})
        assert response.status_code == 400
        assert b"Write a message or attach a file." in response.content
        assert not Message.objects.filter(ticket=ticket).exists()

    def test_on_a_closed_ticket_shows_an_error_and_creates_nothing(self, customer_client, customer):
        ticket = TicketFactory(requester=customer, status=Status.CLOSED)
        response = customer_client.post(self._url(ticket), {"body": "Hello?"})
        assert response.status_code == 409
        assert b"This ticket is closed. Please open a new ticket." in response.content
        assert not Message.objects.filter(ticket=ticket).exists()

    def test_on_another_customers_ticket_is_not_found(self, customer_client, other_customer):
        ticket = TicketFactory(requester=other_customer)
        assert customer_client.post(self._url(ticket), {"body": "Hi"}).status_code == 404
        assert not Message.objects.filter(ticket=ticket).exists()

    def test_requires_csrf(self, customer, client):
        from django.test import Client

        csrf_client = Client(enforce_csrf_checks=True)
        csrf_client.force_login(customer)
        ticket = TicketFactory(requester=customer)
        assert csrf_client.post(self._url(ticket), {"body": "Hi"}).status_code == 403
        assert not Message.objects.filter(ticket=ticket).exists()

    def test_resolve_marks_the_ticket_solved(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)
        response = customer_client.post(self._url(ticket, "ticket-resolve"), follow=True)
        ticket.refresh_from_db()
        assert ticket.status == Status.RESOLVED
        assert b"The ticket is resolved." in response.content
        assert b">Reopen</button>" in response.content

    def test_resolve_is_post_only(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)
        assert customer_client.get(self._url(ticket, "ticket-resolve")).status_code == 405
        ticket.refresh_from_db()
        assert ticket.status == Status.NEW

    def test_reopen_opens_a_resolved_ticket(self, customer_client, customer):
        ticket = TicketFactory(requester=customer, status=Status.RESOLVED)
        customer_client.post(self._url(ticket, "ticket-reopen"))
        ticket.refresh_from_db()
        assert ticket.status == Status.OPEN

    def test_reopen_on_a_closed_ticket_shows_the_refusal(self, customer_client, customer):
        ticket = TicketFactory(requester=customer, status=Status.CLOSED)
        response = customer_client.post(self._url(ticket, "ticket-reopen"), follow=True)
        assert response.status_code == 200
        assert b"Only resolved tickets can be reopened; this one is closed." in response.content
        ticket.refresh_from_db()
        assert ticket.status == Status.CLOSED


# --- attachments -----------------------------------------------------------------


class TestAttachmentDownload:
    def test_sends_the_file_as_a_download_with_safe_headers(self, customer_client, customer):
        attachment = ticket_with_attachment(customer, name="seam photo.png")
        response = customer_client.get(reverse("portal:attachment", kwargs={"uuid": attachment.uuid}))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == png_bytes()
        assert response["Content-Disposition"].startswith("attachment;")
        assert "seam photo.png" in response["Content-Disposition"]
        assert response["Content-Type"] == "image/png"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response["Cache-Control"] == "private, no-store"

    def test_another_customers_attachment_is_not_found(self, customer_client, other_customer):
        attachment = ticket_with_attachment(other_customer)
        response = customer_client.get(reverse("portal:attachment", kwargs={"uuid": attachment.uuid}))
        assert response.status_code == 404

    def test_an_attachment_on_an_internal_note_is_not_found_for_the_customer(self, customer_client, customer, agent):
        ticket = TicketFactory(requester=customer)
        checked = check_upload(upload("trace.txt", b"stack trace\n", "text/plain"))
        note = usecases.reply(ticket=ticket, author=agent, body="n", internal=True, attachments=[checked], now=T0)
        attachment = note.attachments.get()
        response = customer_client.get(reverse("portal:attachment", kwargs={"uuid": attachment.uuid}))
        assert response.status_code == 404

    def test_requires_login(self, client, customer):
        attachment = ticket_with_attachment(customer)
        response = client.get(reverse("portal:attachment", kwargs={"uuid": attachment.uuid}))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login"))


# --- rate limits ---------------------------------------------------------------------


class TestRateLimits:
    @pytest.fixture(autouse=True)
    def _still_clock(self, time_machine):
        """Counters are fixed windows: a window ending mid-test would start a fresh count."""
        time_machine.move_to(T0, tick=False)

    def test_login_per_ip_refuses_the_third_attempt_with_a_clear_message(self, client, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip": "2/m"}
        for n in range(2):
            response = client.post(reverse("portal:login"), {"username": f"u{n}@example.com", "password": "x"})
            assert response.status_code == 200
        response = client.post(reverse("portal:login"), {"username": "alice@example.com", "password": PASSWORD})
        assert response.status_code == 429
        assert b"Too many attempts. Please wait a while and try again." in response.content
        assert "_auth_user_id" not in client.session

    def test_login_per_account_says_the_same_whether_the_account_exists_or_not(self, client, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip_account": "1/m"}
        refusals = []
        for address in ("alice@example.com", "ghost@example.com"):
            client.post(reverse("portal:login"), {"username": address, "password": "wrong"})
            refusals.append(client.post(reverse("portal:login"), {"username": address.upper(), "password": "wrong"}))
        assert [r.status_code for r in refusals] == [429, 429]
        assert refusals[0].content == refusals[1].content

    def test_login_page_get_is_not_counted(self, client, settings):
        settings.RATELIMITS = {**settings.RATELIMITS, "login_ip": "1/m"}
        for _ in range(3):
            assert client.get(reverse("portal:login")).status_code == 200

    def test_password_reset_per_email_sends_nothing_once_refused(self, client, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "password_reset_ip_account": "1/m"}
        client.post(reverse("portal:password-reset"), {"email": "alice@example.com"})
        response = client.post(reverse("portal:password-reset"), {"email": "alice@example.com"})
        assert response.status_code == 429
        assert len(mail.outbox) == 1

    def test_password_reset_per_ip(self, client, settings, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "password_reset_ip": "1/m"}
        client.post(reverse("portal:password-reset"), {"email": "x@example.com"})
        response = client.post(reverse("portal:password-reset"), {"email": "alice@example.com"})
        assert response.status_code == 429
        assert mail.outbox == []

    def test_signup_per_ip_creates_nobody_once_refused(self, client, settings):
        settings.RATELIMITS = {**settings.RATELIMITS, "signup_ip": "1/m"}
        client.post(reverse("portal:signup"), {"email": "a1@example.com", "name": "A", "password": NEW_PASSWORD})
        response = client.post(
            reverse("portal:signup"), {"email": "a2@example.com", "name": "A", "password": NEW_PASSWORD}
        )
        assert response.status_code == 429
        assert not User.objects.filter(username="a2@example.com").exists()
        assert len(mail.outbox) == 1

    def test_ticket_form_per_user_refuses_without_creating_a_ticket(self, customer_client, settings):
        settings.RATELIMITS = {**settings.RATELIMITS, "ticket_account": "1/m"}
        assert customer_client.post(reverse("portal:ticket-new"), new_ticket_data()).status_code == 302
        response = customer_client.post(reverse("portal:ticket-new"), new_ticket_data(subject="Second"))
        assert response.status_code == 429
        assert b"Too many attempts" in response.content
        assert Ticket.objects.count() == 1

    def test_ticket_form_per_ip_counts_across_users(self, client, settings, customer, other_customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "ticket_ip": "1/m"}
        client.force_login(customer)
        client.post(reverse("portal:ticket-new"), new_ticket_data())
        client.force_login(other_customer)
        response = client.post(reverse("portal:ticket-new"), new_ticket_data())
        assert response.status_code == 429
        assert not Ticket.objects.filter(requester=other_customer).exists()


# --- pages and headers ----------------------------------------------------------------


class TestPages:
    def test_home_links_to_filing_and_my_tickets_and_login(self, client):
        content = client.get(reverse("portal:home")).content.decode()
        assert reverse("portal:ticket-new") in content
        assert reverse("portal:ticket-list") in content
        assert reverse("portal:login") in content
        assert reverse("portal:signup") in content
        assert 'href="#main"' in content
        assert '<main id="main"' in content

    def test_signed_in_header_offers_a_logout_button_form(self, customer_client):
        content = customer_client.get(reverse("portal:home")).content.decode()
        assert f'action="{reverse("portal:logout")}"' in content
        assert "csrfmiddlewaretoken" in content

    @pytest.mark.parametrize("name", ["portal:home", "portal:login", "portal:signup", "portal:password-reset"])
    def test_sends_a_csp_without_inline_scripts(self, client, name):
        response = client.get(reverse(name))
        policy = response["Content-Security-Policy"]
        script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
        assert "'self'" in script_src
        assert "unsafe-inline" not in script_src
        # Scripts only from files (the live chat widget's, the browser's time zone): never inline.
        assert not re.search(r"<script(?![^>]*\ssrc=)", response.content.decode())

    def test_stylesheet_is_served(self, client):
        content = client.get(reverse("portal:home")).content.decode()
        link = re.search(r'<link rel="stylesheet" href="([^"]+)"', content)
        assert link is not None
        href = link.group(1)
        response = client.get(href)
        assert response.status_code == 200
        assert b".skip-link" in b"".join(response.streaming_content)

    def test_unknown_page_uses_our_404(self, client):
        response = client.get("/no-such-page/")
        assert response.status_code == 404
        assert b"Page not found" in response.content


def test_updated_time_moves_with_a_reply(customer_client, customer):
    ticket = TicketFactory(requester=customer)
    MessageFactory(ticket=ticket, author=customer, body="ping", created_at=T0 + timedelta(days=1))
    content = customer_client.get(reverse("portal:ticket-list")).content.decode()
    assert "3 Mar 2026, 09:00" in content


@pytest.mark.django_db
class TestMyTicketsForAgents:
    def test_an_agent_in_the_portal_sees_only_what_they_filed(self, client, agent, customer):
        TicketFactory(requester=customer, subject="A customer's problem")
        TicketFactory(requester=agent, subject="My own sofa")
        client.force_login(agent)
        html = client.get("/tickets/").content.decode()
        assert "My own sofa" in html
        assert "A customer&#x27;s problem" not in html
        assert "A customer's problem" not in html


@pytest.mark.django_db
class TestAttachmentWithoutFile:
    def test_a_missing_file_is_a_404_not_a_500(self, client, customer):
        from tickets import uploads

        ticket = TicketFactory(requester=customer)
        message = usecases.reply(
            ticket=ticket,
            author=customer,
            body="log",
            now=T0,
            attachments=uploads.check_uploads([SimpleUploadedFile("a.txt", b"hello\n")]),
        )
        attachment = message.attachments.get()
        attachment.file.delete(save=False)
        client.force_login(customer)
        assert client.get(f"/attachments/{attachment.uuid}/").status_code == 404
