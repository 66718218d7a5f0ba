"""The knowledge panel on the console's ticket page and its actions: runbooks, steps, template replies, FAQ links."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from knowledge import console
from knowledge.models import Article, RunbookStepTick, TicketRunbook
from support import usecases
from tests.knowledge.factories import T0, ArticleFactory, ResponseTemplateFactory, RunbookFactory
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

CANARY = "zqxcanary"


@pytest.fixture
def ticket(customer):
    return usecases.file_ticket(
        requester=customer,
        subject="Card payment declined at checkout",
        description="My card was declined twice.",
        category=Ticket.Category.PAYMENT,
        now=T0,
    )


@pytest.fixture
def runbook():
    return RunbookFactory(
        title=f"Payment declines {CANARY}",
        slug="payment-declines-runbook",
        category=Article.Category.PAYMENT,
        body=(
            "## Steps\n\n- [ ] Check the payment gateway status\n- [ ] Look up the decline code\n"
            "- [ ] Reply to the customer\n"
        ),
    )


@pytest.fixture
def faq():
    return ArticleFactory(
        title="Why was my card [declined]?",
        slug="card-declined",
        body="Card payments are declined when the bank asks for 3-D Secure.",
        category=Article.Category.PAYMENT,
    )


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def change_page(ticket: Ticket) -> str:
    return f"/admin/tickets/ticket/{ticket.pk}/change/"


def base(ticket: Ticket) -> str:
    return f"/console/tickets/{ticket.reference}"


def events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind).order_by("id"))


class TestPanel:
    def test_agents_see_the_category_runbooks_and_subject_hits(self, ticket, runbook, faq, agent):
        html = client_for(agent).get(change_page(ticket)).content.decode()

        assert 'id="kb-runbooks"' in html
        assert f"Payment declines {CANARY}" in html
        assert f'action="{base(ticket)}/runbooks/attach/"' in html
        assert 'id="kb-hits"' in html
        assert "Why was my card [declined]?" in html
        assert "<mark>" in html  # highlighted subject words

    def test_runbooks_of_other_categories_are_not_offered(self, ticket, agent):
        RunbookFactory(title="Database failover", slug="db-failover", category=Article.Category.DATABASE)

        html = client_for(agent).get(change_page(ticket)).content.decode()

        assert 'value="db-failover"' not in html

    def test_the_panel_renders_nothing_for_anyone_but_agents(self, ticket, runbook, customer):
        request = RequestFactory().get("/")
        request.user = customer

        assert console.console_panel(request, ticket) is None

    def test_a_closed_ticket_shows_runbooks_without_actions(self, ticket, runbook, agent):
        Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.CLOSED, resolved_at=T0, closed_at=T0)

        html = client_for(agent).get(change_page(ticket)).content.decode()

        assert f"Payment declines {CANARY}" in html
        assert "/runbooks/attach/" not in html
        assert "/template-reply/" not in html


class TestRunbooks:
    def test_attaching_records_the_runbook_and_a_timeline_event(self, ticket, runbook, agent):
        response = client_for(agent).post(f"{base(ticket)}/runbooks/attach/", {"article": runbook.slug})

        assert response.status_code == 302
        assert response["Location"] == change_page(ticket) + "#kb-runbooks"
        assert TicketRunbook.objects.filter(ticket=ticket, article=runbook).exists()
        [event] = events(ticket, TicketEvent.Kind.RUNBOOK_ATTACHED)
        assert (event.actor, event.new_value) == (agent, runbook.title)

    def test_attaching_twice_is_refused_with_a_message(self, ticket, runbook, agent):
        client = client_for(agent)
        client.post(f"{base(ticket)}/runbooks/attach/", {"article": runbook.slug})

        response = client.post(f"{base(ticket)}/runbooks/attach/", {"article": runbook.slug}, follow=True)

        assert "already attached" in response.content.decode()
        assert len(events(ticket, TicketEvent.Kind.RUNBOOK_ATTACHED)) == 1

    def test_ticking_and_unticking_a_step_each_write_the_timeline(self, ticket, runbook, agent):
        client = client_for(agent)
        client.post(f"{base(ticket)}/runbooks/attach/", {"article": runbook.slug})
        attached = TicketRunbook.objects.get()

        client.post(f"{base(ticket)}/runbooks/{attached.pk}/steps/2/", {"done": "1"})
        assert RunbookStepTick.objects.get().step_text == "Look up the decline code"
        client.post(f"{base(ticket)}/runbooks/{attached.pk}/steps/2/", {"done": "0"})

        assert not RunbookStepTick.objects.exists()
        ticked, unticked = events(ticket, TicketEvent.Kind.RUNBOOK_STEP)
        assert "Ticked step 2" in ticked.new_value
        assert "Unticked step 2" in unticked.new_value
        assert ticked.internal
        assert unticked.internal

    def test_the_page_shows_ticked_steps(self, ticket, runbook, agent):
        client = client_for(agent)
        client.post(f"{base(ticket)}/runbooks/attach/", {"article": runbook.slug})
        attached = TicketRunbook.objects.get()
        client.post(f"{base(ticket)}/runbooks/{attached.pk}/steps/1/", {"done": "1"})

        html = client.get(change_page(ticket)).content.decode()

        assert 'class="kb-step kb-step-done"' in html
        assert 'aria-label="Untick step 1"' in html
        assert 'aria-label="Tick step 2"' in html

    def test_a_step_the_runbook_does_not_have_is_refused(self, ticket, runbook, agent):
        client = client_for(agent)
        client.post(f"{base(ticket)}/runbooks/attach/", {"article": runbook.slug})
        attached = TicketRunbook.objects.get()

        response = client.post(f"{base(ticket)}/runbooks/{attached.pk}/steps/9/", {"done": "1"}, follow=True)

        assert "steps 1 to 3" in response.content.decode()
        assert not RunbookStepTick.objects.exists()

    def test_a_runbook_of_another_ticket_is_a_404(self, ticket, runbook, agent, customer):
        other = usecases.file_ticket(requester=customer, subject="Other", description="d", now=T0)
        client = client_for(agent)
        client.post(f"{base(other)}/runbooks/attach/", {"article": runbook.slug})
        attached_elsewhere = TicketRunbook.objects.get()

        response = client.post(f"{base(ticket)}/runbooks/{attached_elsewhere.pk}/steps/1/", {"done": "1"})

        assert response.status_code == 404

    @pytest.mark.parametrize(
        "path", ["/runbooks/attach/", "/runbooks/1/steps/1/", "/template-reply/"], ids=["attach", "step", "reply"]
    )
    def test_actions_are_post_only_csrf_checked_and_for_agents(self, ticket, agent, customer, path):
        url = f"{base(ticket)}{path}"
        csrf_client = Client(enforce_csrf_checks=True)
        csrf_client.force_login(agent)

        assert client_for(agent).get(url).status_code == 405
        assert csrf_client.post(url, {"article": "x", "done": "1", "body": "hi"}).status_code == 403
        assert client_for(customer).post(url, {"article": "x", "done": "1", "body": "hi"}).status_code == 403
        anonymous = client_for(None).post(url, {"article": "x", "done": "1", "body": "hi"})
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith("/admin/login/")
        assert not TicketRunbook.objects.exists()
        assert Message.objects.filter(by_agent=True).count() == 0


class TestTemplateReplies:
    def test_the_panel_offers_the_active_templates(self, ticket, agent):
        ResponseTemplateFactory(slug="payment-ack", name="Payment acknowledgement")
        ResponseTemplateFactory(slug="retired", name="Retired one", active=False)

        html = client_for(agent).get(change_page(ticket)).content.decode()

        assert '<option value="payment-ack">Payment acknowledgement</option>' in html
        assert "Retired one" not in html

    def test_a_template_reply_is_rendered_for_the_ticket_and_sent_as_a_public_reply(self, ticket, agent):
        ResponseTemplateFactory(
            slug="payment-ack", body="Dear {{ customer_name }},\n\nWe are looking into {{ ticket_reference }}."
        )

        response = client_for(agent).post(
            f"{base(ticket)}/template-reply/", {"template": "payment-ack", "body": "One more thing."}
        )

        assert response.status_code == 302
        reply = Message.objects.get(by_agent=True)
        assert reply.body == f"Dear Alice,\n\nWe are looking into {ticket.reference}.\n\nOne more thing."
        assert not reply.internal
        assert reply.author == agent

    def test_an_faq_link_is_inserted_into_the_reply(self, ticket, faq, agent, settings):
        settings.DESK_BASE_URL = "https://help.sofacoverpro.com"

        client_for(agent).post(f"{base(ticket)}/template-reply/", {"faq": "card-declined", "body": "Please see:"})

        reply = Message.objects.get(by_agent=True)
        assert reply.body == (
            "Please see:\n\nThis article may help: "
            "[Why was my card \\[declined\\]?](https://help.sofacoverpro.com/kb/card-declined/)"
        )

    def test_a_runbook_can_never_be_linked_for_the_customer(self, ticket, runbook, agent):
        response = client_for(agent).post(
            f"{base(ticket)}/template-reply/", {"faq": runbook.slug, "body": "x"}, follow=True
        )

        assert "no longer available" in response.content.decode()
        assert not Message.objects.filter(by_agent=True).exists()

    def test_an_unknown_template_sends_nothing(self, ticket, agent):
        client_for(agent).post(f"{base(ticket)}/template-reply/", {"template": "nope", "body": "x"})

        assert not Message.objects.filter(by_agent=True).exists()

    def test_an_empty_reply_is_refused(self, ticket, agent):
        response = client_for(agent).post(f"{base(ticket)}/template-reply/", {"body": "  "}, follow=True)

        assert "Pick a template" in response.content.decode()
        assert not Message.objects.filter(by_agent=True).exists()
