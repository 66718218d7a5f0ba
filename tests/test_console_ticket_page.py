"""The console's ticket page as a whole: every panel on a ticket with a realistic thread, in a fixed budget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from escalation import services as escalation_services
from escalation.models import Escalation
from incidents import services as incident_services
from incidents.models import Component
from knowledge import services as knowledge_services
from knowledge.models import Article
from tests.knowledge.factories import ArticleFactory, RunbookFactory
from tests.tickets.factories import T0
from tests.tickets.files import png_bytes
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.uploads import check_uploads

pytestmark = pytest.mark.django_db

# Whatever the thread's length: user, groups with permissions (one read), ticket with requester and
# assignee, messages, their attachments, timeline, SLA pauses with breaches (one read), escalations,
# who is copied on the replies (issue 12), attached runbooks, their ticks. The session, the subject's
# article hits, the category's FAQs and runbooks, the reply templates and the assignee choices come
# from the cache (read from the database once a minute). 23 before each read was shaped, 20 before the
# session, the permissions and the category's articles were read once each, 16 before the cache, 10
# before the CC list; the target is 10. This busy ticket fills every panel: a ticket with no
# runbook attached reads one fewer. 12 since the incidents panel (issue 13): the incidents the ticket is
# linked to and the open ones affecting its component are one read, however many there are. 10 since the
# messages are read with their attachments, and the runbooks with their ticks (a LEFT JOIN each).
TICKET_PAGE_MAX_QUERIES = 10


def attachment(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


@pytest.fixture
def runbook() -> Article:
    ArticleFactory(title="Why was my card declined?", slug="card-declined", category=Article.Category.PAYMENT)
    return RunbookFactory(
        title="Payment declines",
        slug="payment-declines-runbook",
        category=Article.Category.PAYMENT,
        body="## Steps\n\n- [ ] Check the gateway\n- [ ] Look up the decline code\n- [ ] Reply to the customer\n",
    )


def ticket_with_thread(*, customer, agent, manager, runbook: Article, exchanges: int) -> Ticket:
    """A payment ticket some days into its life: replies with attachments, notes, a pause, escalations, a runbook."""
    ticket = ticket_services.ticket_open(
        requester=customer,
        subject="Card payment declined at checkout",
        description="My card was declined twice.",
        category=Ticket.Category.PAYMENT,
        priority=Ticket.Priority.P1,
        now=T0,
    )
    at = T0
    for n in range(exchanges):
        at += timedelta(hours=2)
        ticket_services.message_add(
            ticket=ticket,
            author=customer if n % 2 else agent,
            body=f"Message {n} about the declined card payment",
            attachments=check_uploads([attachment(f"screen-{n}.png"), attachment(f"log-{n}.png")]),
            now=at,
        )
        ticket_services.message_add(ticket=ticket, author=agent, body=f"Note {n}", internal=True, now=at)
    ticket = Ticket.objects.get(pk=ticket.pk)
    ticket_services.ticket_update(ticket=ticket, actor=agent, status=Ticket.Status.PENDING_CUSTOMER, now=at)
    ticket = Ticket.objects.get(pk=ticket.pk)
    ticket_services.ticket_update(ticket=ticket, actor=agent, status=Ticket.Status.OPEN, now=at + timedelta(hours=5))
    ticket = Ticket.objects.get(pk=ticket.pk)
    attached = knowledge_services.runbook_attach(ticket=ticket, article=runbook, actor=agent, now=at)
    knowledge_services.runbook_step_tick(ticket_runbook=attached, step=1, actor=agent, now=at)
    escalation_services.ticket_escalate(
        ticket=ticket, actor=customer, reason=Escalation.Reason.CUSTOMER_REQUEST, now=at + timedelta(hours=6)
    )
    ticket = Ticket.objects.get(pk=ticket.pk)
    escalation_services.ticket_escalate(
        ticket=ticket,
        actor=manager,
        reason=Escalation.Reason.TECHNICAL_COMPLEXITY,
        note="Needs the payments team",
        now=at + timedelta(hours=7),
    )
    # Two open incidents on checkout: one the ticket is linked to, one the panel suggests linking.
    checkout = Component.objects.filter(slug="checkout-payments")
    for n in range(2):
        incident_services.declare(
            severity="P1",
            title=f"Card payments failing ({n})",
            impact="Some card payments fail",
            components=checkout,
            actions=["Call the gateway"],
            declared_by=agent,
            ticket=ticket if n == 0 else None,
            now=at + timedelta(hours=7),
        )
    return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture
def busy_ticket(customer, agent, manager, runbook):
    return ticket_with_thread(customer=customer, agent=agent, manager=manager, runbook=runbook, exchanges=6)


def queries_for_page(client: Client, ticket: Ticket) -> int:
    url = f"/admin/tickets/ticket/{ticket.pk}/change/"
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


class TestTicketPage:
    def test_shows_every_panel_of_a_busy_ticket_in_a_fixed_number_of_queries(
        self, client: Client, manager, busy_ticket, django_assert_max_num_queries
    ):
        client.force_login(manager)
        url = f"/admin/tickets/ticket/{busy_ticket.pk}/change/"
        client.get(url)  # warm: the policy book and the templates are cached per process

        with django_assert_max_num_queries(TICKET_PAGE_MAX_QUERIES):
            response = client.get(url)

        html = response.content.decode()
        assert response.status_code == 200
        assert "screen-0.png" in html
        assert "log-5.png" in html
        assert "Note 5" in html
        assert "Payment declines" in html
        assert "Needs the payments team" in html
        assert 'id="sla"' in html
        assert "Card payments failing (0)" in html
        assert "Link to INC-" in html

    def test_a_longer_thread_costs_no_more_queries(self, client: Client, customer, agent, manager, runbook):
        client.force_login(manager)
        short = ticket_with_thread(customer=customer, agent=agent, manager=manager, runbook=runbook, exchanges=1)
        long = ticket_with_thread(customer=customer, agent=agent, manager=manager, runbook=runbook, exchanges=8)
        assert queries_for_page(client, long) == queries_for_page(client, short)
