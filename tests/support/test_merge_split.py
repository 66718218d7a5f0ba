"""Merging duplicate tickets and splitting a message off (support.usecases.merge_tickets, split_message),
through the use cases, the console's forms and bulk action, and the portal's merged page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from escalation.models import SlaBreach
from incidents.models import IncidentTicket
from notifications.models import Notification
from support import usecases
from tests.tickets.factories import T0, AgentFactory, MessageFactory, TicketFactory
from tickets import services
from tickets.models import Attachment, Message, Ticket, TicketCc, TicketEvent
from tickets.uploads import check_uploads

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(hours=2)
Kind = TicketEvent.Kind


def merge_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_merge", args=[ticket.pk])


def split_url(ticket: Ticket, message: Message) -> str:
    return reverse("admin:tickets_ticket_split", args=[ticket.pk, message.pk])


def mails_to(address: str, ticket: Ticket) -> int:
    return Notification.objects.filter(
        ticket=ticket, channel=Notification.Channel.EMAIL, kind=Notification.Kind.REPLY, recipient=address
    ).count()


@pytest.fixture
def incident(agent):
    return usecases.declare_incident(
        declared_by=agent,
        now=T0,
        severity="P2",
        title="Checkout slow",
        impact="Payments take a minute",
        started_at=T0 - timedelta(minutes=10),
    )


@pytest.fixture
def duplicate(customer, agent):
    """A customer's ticket and its duplicate: a reply with a file, a note and a CC on the duplicate."""
    survivor = TicketFactory(requester=customer, subject="Cover torn", created_at=T0)
    source = TicketFactory(
        requester=customer, subject="Cover torn again", description="Same tear, new photo.", created_at=T0
    )
    files = check_uploads([SimpleUploadedFile("tear.txt", b"a photo, in words", content_type="text/plain")])
    usecases.reply(ticket=source, author=customer, body="Photo attached.", attachments=files, now=T0)
    MessageFactory(ticket=source, author=agent, body="Warehouse batch 7.", internal=True, created_at=T0)
    usecases.cc_add(ticket=source, email="partner@example.com", actor=agent, now=T0)
    usecases.cc_add(ticket=source, email="both@example.com", actor=agent, now=T0)
    usecases.cc_add(ticket=survivor, email="both@example.com", actor=agent, now=T0)
    return source, survivor


class TestMergeUseCase:
    def test_moves_the_thread_ccs_and_links_closes_the_source_and_tells_the_customer_once(
        self, agent, customer, duplicate, incident
    ):
        source, survivor = duplicate
        usecases.incident_link(incident=incident, tickets=[source], by=agent, now=T0)
        moved_ids = set(source.messages.values_list("pk", flat=True))
        attachment = Attachment.objects.get(message__ticket=source)

        usecases.merge_tickets(source=source, target=survivor, actor=agent, now=NOW)

        source.refresh_from_db()
        survivor.refresh_from_db()
        assert source.status == Ticket.Status.CLOSED
        assert source.merged_into == survivor
        assert not source.messages.exists()
        assert moved_ids <= set(survivor.messages.values_list("pk", flat=True))
        assert Attachment.objects.get(pk=attachment.pk).message.ticket == survivor
        # The duplicate's request itself is on the survivor's thread, dated when it was filed.
        request = survivor.messages.get(body__contains="Same tear, new photo.")
        assert (request.author, request.created_at, request.internal) == (customer, T0, False)
        assert set(survivor.ccs.values_list("email", flat=True)) == {"partner@example.com", "both@example.com"}
        # The address both copied stays on the source (the unique constraint), so nothing is lost.
        assert list(source.ccs.values_list("email", flat=True)) == ["both@example.com"]
        assert IncidentTicket.objects.get(incident=incident).ticket == survivor
        assert source.events.filter(kind=Kind.MERGED_INTO, new_value=survivor.reference).exists()
        assert survivor.events.filter(kind=Kind.MERGED_FROM, new_value=source.reference, internal=False).exists()
        # The source's clocks stopped; the customer was told once, on the survivor.
        assert source.sla_next_check_at is None
        usecases.sla_sweep(now=NOW + timedelta(days=30))
        assert not SlaBreach.objects.filter(ticket=source).exists()
        assert SlaBreach.objects.filter(ticket=survivor).exists()  # (the sweep did run)
        note = survivor.messages.filter(by_agent=True, internal=False).get()
        assert source.reference in note.body
        assert survivor.reference in note.body
        assert mails_to(customer.username, survivor) == 1

    def test_another_customers_ticket_needs_confirmation_then_copies_that_customer(
        self, agent, customer, other_customer
    ):
        survivor = TicketFactory(requester=customer, created_at=T0)
        source = TicketFactory(requester=other_customer, created_at=T0)

        with pytest.raises(services.MergeRefused) as refused:
            usecases.merge_tickets(source=source, target=survivor, actor=agent, now=NOW)
        assert refused.value.field == "confirm"
        source.refresh_from_db()
        assert source.merged_into is None
        assert source.status == Ticket.Status.NEW

        usecases.merge_tickets(source=source, target=survivor, actor=agent, now=NOW, other_customer_confirmed=True)

        assert TicketCc.objects.filter(ticket=survivor, email=other_customer.username).exists()
        assert mails_to(other_customer.username, survivor) == 1
        assert mails_to(customer.username, survivor) == 1
        # Another customer's ticket is the desk's business on the survivor's timeline.
        assert survivor.events.get(kind=Kind.MERGED_FROM).internal

    def test_refuses_itself_a_merged_ticket_and_a_closed_one(self, agent, customer):
        first, second, third = (TicketFactory(requester=customer, created_at=T0) for _ in range(3))
        with pytest.raises(services.MergeRefused, match="itself"):
            usecases.merge_tickets(source=first, target=first, actor=agent, now=NOW)
        usecases.merge_tickets(source=first, target=second, actor=agent, now=NOW)
        with pytest.raises(services.MergeRefused, match=f"merged into {second.reference}"):
            usecases.merge_tickets(source=third, target=first, actor=agent, now=NOW)
        with pytest.raises(services.MergeRefused):
            usecases.merge_tickets(source=first, target=third, actor=agent, now=NOW)
        closed = TicketFactory(requester=customer, status=Ticket.Status.CLOSED, created_at=T0)
        with pytest.raises(services.MergeRefused, match="closed"):
            usecases.merge_tickets(source=third, target=closed, actor=agent, now=NOW)
        third.refresh_from_db()
        assert third.merged_into is None

    def test_only_agents_who_may_work_both_tickets(self, agent, customer):
        tier3 = TicketFactory(requester=customer, tier=3, created_at=T0)
        tier1 = TicketFactory(requester=customer, created_at=T0)
        with pytest.raises(services.OutsideYourTier):
            usecases.merge_tickets(source=tier1, target=tier3, actor=agent, now=NOW)
        with pytest.raises(services.NotAllowed):
            usecases.merge_tickets(source=tier1, target=tier3, actor=customer, now=NOW)
        manager = AgentFactory(tier=3)
        usecases.merge_tickets(source=tier1, target=tier3, actor=manager, now=NOW)

    def test_a_reply_on_the_merged_ticket_is_refused_naming_the_survivor(self, agent, customer, duplicate):
        source, survivor = duplicate
        usecases.merge_tickets(source=source, target=survivor, actor=agent, now=NOW)
        for author in (agent, customer):
            with pytest.raises(services.TicketMerged, match=f"merged into {survivor.reference}"):
                usecases.reply(ticket=source, author=author, body="Any news?", now=NOW)


class TestSplitUseCase:
    def test_the_message_and_its_files_move_to_a_new_ticket_with_its_own_deadlines(self, agent, customer):
        ticket = TicketFactory(requester=customer, priority=Ticket.Priority.P1, tier=2, created_at=T0)
        files = check_uploads([SimpleUploadedFile("sofa.txt", b"a second sofa", content_type="text/plain")])
        message = usecases.reply(ticket=ticket, author=customer, body="Also my other sofa.", attachments=files, now=T0)
        manager = AgentFactory(tier=3)

        new = usecases.split_message(message=message, actor=manager, now=NOW, subject="Second sofa")

        message.refresh_from_db()
        assert message.ticket == new
        assert message.attachments.get().filename == "sofa.txt"
        assert (new.requester, new.subject, new.priority, new.tier) == (customer, "Second sofa", "P1", 2)
        assert new.first_response_due_at is not None
        assert new.resolution_due_at is not None
        assert ticket.events.filter(kind=Kind.SPLIT_TO, new_value=new.reference).exists()
        assert new.events.filter(kind=Kind.SPLIT_FROM, new_value=ticket.reference).exists()
        assert not ticket.messages.filter(pk=message.pk).exists()

    def test_refuses_without_a_subject_or_out_of_scope(self, agent, customer):
        ticket = TicketFactory(requester=customer, created_at=T0)
        message = MessageFactory(ticket=ticket, author=customer, body="Also this.", created_at=T0)
        with pytest.raises(services.SplitRefused):
            usecases.split_message(message=message, actor=agent, now=NOW, subject="  ")
        with pytest.raises(services.NotAllowed):
            usecases.split_message(message=message, actor=customer, now=NOW, subject="Mine")
        assert Ticket.objects.count() == 1


class TestConsoleMerge:
    def test_the_ticket_page_links_to_the_merge_form(self, client, agent, duplicate):
        source, _ = duplicate
        client.force_login(agent)
        html = client.get(reverse("admin:tickets_ticket_change", args=[source.pk])).content.decode()
        assert f'href="{merge_url(source)}"' in html
        message = source.messages.first()
        assert f'href="{split_url(source, message)}"' in html

    def test_merging_through_the_form(self, client, agent, duplicate):
        source, survivor = duplicate
        client.force_login(agent)
        assert client.get(merge_url(source)).status_code == 200

        response = client.post(merge_url(source), {"target": survivor.reference.lower()})

        assert response.status_code == 302
        assert response["Location"] == reverse("admin:tickets_ticket_change", args=[survivor.pk])
        source.refresh_from_db()
        assert source.merged_into == survivor

    @pytest.mark.parametrize("target", ["self", "nonsense", "SCP-999999", ""])
    def test_bad_targets_are_form_errors(self, client, agent, duplicate, target):
        source, _ = duplicate
        client.force_login(agent)
        response = client.post(merge_url(source), {"target": source.reference if target == "self" else target})
        assert response.status_code == 400
        assert response.context["form"].errors
        source.refresh_from_db()
        assert source.merged_into is None

    def test_another_customer_needs_the_box_ticked(self, client, agent, customer, other_customer):
        survivor = TicketFactory(requester=customer, created_at=T0)
        source = TicketFactory(requester=other_customer, created_at=T0)
        client.force_login(agent)
        response = client.post(merge_url(source), {"target": survivor.reference})
        assert response.status_code == 400
        assert "confirm" in response.context["form"].errors
        assert client.post(merge_url(source), {"target": survivor.reference, "confirm": "on"}).status_code == 302

    def test_customers_and_missing_tickets(self, client, customer, agent, duplicate):
        source, _ = duplicate
        client.force_login(customer)
        assert client.get(merge_url(source)).status_code == 302  # to the console's login
        client.force_login(agent)
        assert client.get(reverse("admin:tickets_ticket_merge", args=[999999])).status_code == 404

    def test_the_queue_action_merges_the_selection_into_the_ticket_picked(self, client, agent, customer):
        tickets = [TicketFactory(requester=customer, created_at=T0) for _ in range(3)]
        selection = {"action": "merge_into", "_selected_action": [str(t.pk) for t in tickets]}
        client.force_login(agent)
        changelist = reverse("admin:tickets_ticket_changelist")

        page = client.post(changelist, selection)
        assert page.status_code == 200
        assert b"The ticket that stays" in page.content

        done = client.post(changelist, {**selection, "apply": "1", "survivor": str(tickets[1].pk)})

        assert done.status_code == 302
        merged = Ticket.objects.filter(merged_into=tickets[1]).values_list("pk", flat=True)
        assert sorted(merged) == [tickets[0].pk, tickets[2].pk]


class TestConsoleSplit:
    def test_splitting_through_the_form(self, client, agent, customer):
        ticket = TicketFactory(requester=customer, created_at=T0)
        message = MessageFactory(ticket=ticket, author=customer, body="Another matter.", created_at=T0)
        client.force_login(agent)
        assert client.get(split_url(ticket, message)).status_code == 200
        assert client.post(split_url(ticket, message), {"subject": ""}).status_code == 400

        response = client.post(split_url(ticket, message), {"subject": "Another matter"})

        new = Ticket.objects.get(subject="Another matter")
        assert response["Location"] == reverse("admin:tickets_ticket_change", args=[new.pk])
        assert new.messages.get() == message

    def test_a_message_of_another_ticket_is_404(self, client, agent, customer):
        ticket = TicketFactory(requester=customer, created_at=T0)
        elsewhere = MessageFactory(ticket=TicketFactory(requester=customer, created_at=T0), created_at=T0)
        client.force_login(agent)
        assert client.get(split_url(ticket, elsewhere)).status_code == 404


class TestReplyOnAMergedTicket:
    def test_the_console_shows_the_reply_again_to_post_on_the_survivor(self, client, agent, duplicate):
        source, survivor = duplicate
        usecases.merge_tickets(source=source, target=survivor, actor=agent, now=NOW)
        client.force_login(agent)

        response = client.post(reverse("admin:tickets_ticket_reply", args=[source.pk]), {"body": "Tear fixed?"})

        assert response.status_code == 409
        html = response.content.decode()
        assert f"merged into {survivor.reference}" in html
        assert "Tear fixed?</textarea>" in html
        assert f'action="{reverse("admin:tickets_ticket_reply", args=[survivor.pk])}"' in html
        assert not Message.objects.filter(body="Tear fixed?").exists()

    def test_the_api_refuses_with_409_naming_the_survivor(self, api_client_for, agent, customer, duplicate):
        source, survivor = duplicate
        usecases.merge_tickets(source=source, target=survivor, actor=agent, now=NOW)
        response = api_client_for(customer).post(
            f"/api/v1/tickets/{source.reference}/messages/", {"body": "Hello?"}, format="json"
        )
        assert response.status_code == 409
        assert survivor.reference in response.json()["message"]


class TestPortal:
    def test_the_merged_page_points_at_the_survivor(self, client, agent, customer, duplicate):
        source, survivor = duplicate
        usecases.merge_tickets(source=source, target=survivor, actor=agent, now=NOW)
        client.force_login(customer)
        html = client.get(reverse("portal:ticket-detail", kwargs={"reference": source.reference})).content.decode()
        assert f'merged into <a href="/tickets/{survivor.reference}/">{survivor.reference}</a>' in html

    def test_no_link_to_another_customers_ticket(self, client, agent, customer, other_customer):
        survivor = TicketFactory(requester=customer, created_at=T0)
        source = TicketFactory(requester=other_customer, created_at=T0)
        usecases.merge_tickets(source=source, target=survivor, actor=agent, now=NOW, other_customer_confirmed=True)
        client.force_login(other_customer)
        html = client.get(reverse("portal:ticket-detail", kwargs={"reference": source.reference})).content.decode()
        assert "merged into another ticket" in html
        assert survivor.reference not in html
