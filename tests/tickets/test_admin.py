"""The agent console: the admin as a door into the ticket services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.contrib.admin import utils as admin_utils
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from support import usecases
from tests.tickets.factories import T0, AgentFactory, CustomerFactory, MessageFactory, TicketFactory
from tickets import admin as console
from tickets import services
from tickets.models import Message, Ticket, TicketEvent
from tickets.uploads import check_uploads

pytestmark = pytest.mark.django_db
Status = Ticket.Status
Priority = Ticket.Priority

CHANGELIST = reverse("admin:tickets_ticket_changelist")
# The changelist's queries do not grow with the number of tickets on the page: user, groups with
# permissions, the capped count, the page (the session and the assignee filter's agents are cached).
CHANGELIST_MAX_QUERIES = 4


def change_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def reply_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_reply", args=[ticket.pk])


def results(response) -> list[Ticket]:
    return list(response.context["cl"].result_list)


def flashed(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def form_data(ticket: Ticket, **overrides) -> dict[str, str]:
    data = {
        "subject": ticket.subject,
        "priority": ticket.priority,
        "status": ticket.status,
        "tier": str(ticket.tier),
        "category": ticket.category,
        "assignee": str(ticket.assignee_id or ""),
        "_save": "Save",
    }
    data.update(overrides)
    return data


class TestChangelist:
    def test_shows_the_queue_columns_priority_label_and_age(self, client, agent, customer, time_machine):
        TicketFactory(requester=customer, subject="Checkout <b>fails</b>", priority=Priority.P0, assignee=agent)
        time_machine.move_to(T0 + timedelta(hours=3, minutes=10), tick=False)
        client.force_login(agent)

        response = client.get(CHANGELIST)

        assert response.status_code == 200
        html = response.content.decode()
        for column in (
            "reference",
            "subject",
            "priority_label",
            "status",
            "tier",
            "assignee_label",
            "requester_email",
            "age",
        ):
            assert f'class="sortable column-{column}' in html or f'class="column-{column}' in html, column
        assert '<span class="console-priority console-priority-p0" title="P0 Critical">P0</span>' in html
        escaped = "Checkout &lt;b&gt;fails&lt;/b&gt;"
        assert f'<span class="queue-clip" title="{escaped}">{escaped}</span>' in html
        assert "<b>fails</b>" not in html
        assert '<td class="field-age">3 h 10 min</td>' in html
        assert '<span class="queue-clip" title="alice@example.com">alice@example.com</span>' in html
        assert "Tina" in html
        assert "tickets/admin.css" in html
        assert "tickets/queue.css" in html
        # The filters are a panel above the table, and the admin's app list is not beside it.
        assert 'id="queue-filters"' in html
        assert 'id="nav-sidebar"' not in html

    def test_row_checkboxes_are_djangos_markup_and_escape_the_subject(self, client, agent, customer):
        ticket = TicketFactory(requester=customer, subject='Quote " and <script>')
        ticket_admin = admin.site._registry[Ticket]
        assert ticket_admin.action_checkbox(ticket) == ModelAdmin.action_checkbox(ticket_admin, ticket)
        client.force_login(agent)
        html = client.get(CHANGELIST).content.decode()
        assert f'name="_selected_action" value="{ticket.pk}" class="action-select"' in html
        assert "<script>" not in html

    def test_offers_the_filters_including_mine_unassigned_and_each_agent(self, client, agent, tier2_agent):
        client.force_login(agent)

        response = client.get(CHANGELIST)

        html = response.content.decode()
        assert [spec.title for spec in response.context["cl"].filter_specs] == [
            "priority",
            "status",
            "tier",
            "assignee",
            "category",
            "channel",
            "SLA",  # added by escalation/admin.py
            "lead review",  # added by escalation/admin.py
        ]
        assert "?assignee=me" in html
        assert "?assignee=none" in html
        assert "?assignee=tier2%40sofacoverpro.com" in html
        assert ">Mine</a>" in html
        assert ">Unassigned</a>" in html

    def test_mine_shows_only_my_tickets(self, client, agent, tier2_agent):
        mine = TicketFactory(assignee=agent)
        TicketFactory(assignee=tier2_agent)
        TicketFactory()
        client.force_login(agent)

        assert results(client.get(CHANGELIST, {"assignee": "me"})) == [mine]

    def test_unassigned_shows_only_tickets_without_assignee(self, client, agent):
        TicketFactory(assignee=agent)
        nobody = TicketFactory()
        client.force_login(agent)

        assert results(client.get(CHANGELIST, {"assignee": "none"})) == [nobody]

    def test_one_agent_shows_that_agents_tickets(self, client, agent, tier2_agent):
        TicketFactory(assignee=agent)
        theirs = TicketFactory(assignee=tier2_agent)
        client.force_login(agent)

        assert results(client.get(CHANGELIST, {"assignee": tier2_agent.username})) == [theirs]

    def test_filters_by_priority_and_status(self, client, agent):
        p0 = TicketFactory(priority=Priority.P0)
        TicketFactory(priority=Priority.P0, status=Status.RESOLVED)
        TicketFactory(priority=Priority.P3)
        client.force_login(agent)

        assert results(client.get(CHANGELIST, {"priority__exact": "P0", "status__exact": "new"})) == [p0]

    @pytest.mark.parametrize(
        "term",
        ["SCP-{pk:06d}", "scp-{pk:06d}", "velvet", "VELVET cover", "carol@example", "Carol@Example.com"],
    )
    def test_searches_reference_subject_and_requester_email(self, client, agent, term):
        wanted = TicketFactory(subject="Velvet cover pilling", requester=CustomerFactory(email="carol@example.com"))
        TicketFactory(subject="Wrong size", requester=CustomerFactory(email="dave@example.com"))
        client.force_login(agent)

        response = client.get(CHANGELIST, {"q": term.format(pk=wanted.pk)})

        assert results(response) == [wanted]

    def test_orders_active_tickets_first_then_priority_then_age(self, client, agent):
        resolved_p0 = TicketFactory(priority=Priority.P0, status=Status.RESOLVED, created_at=T0 - timedelta(days=3))
        active_p3 = TicketFactory(priority=Priority.P3, created_at=T0 - timedelta(days=2))
        newer_p0 = TicketFactory(priority=Priority.P0, created_at=T0)
        older_p0 = TicketFactory(priority=Priority.P0, status=Status.OPEN, created_at=T0 - timedelta(hours=1))
        closed_p0 = TicketFactory(priority=Priority.P0, status=Status.CLOSED, created_at=T0 - timedelta(days=9))
        client.force_login(agent)

        assert results(client.get(CHANGELIST)) == [older_p0, newer_p0, active_p3, resolved_p0, closed_p0]

    @pytest.mark.parametrize("count", [5, 30])
    def test_query_count_does_not_grow_with_the_tickets(
        self, client, agent, tier2_agent, django_assert_max_num_queries, count
    ):
        agents = [agent, tier2_agent, AgentFactory(tier=3)]
        for n in range(count):
            TicketFactory(
                requester=CustomerFactory(),
                assignee=agents[n % 3] if n % 4 else None,
                priority=list(Priority)[n % 4],
                created_at=T0 - timedelta(minutes=n),
            )
        client.force_login(agent)
        client.get(CHANGELIST)  # warm: the assignee filter's agents are cached

        with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES):
            response = client.get(CHANGELIST)

        assert response.status_code == 200
        assert len(results(response)) == min(count, 25)
        assert "description" in results(response)[0].get_deferred_fields()


class TestQueueCount:
    """The queue counts only as far as its page links need, never the whole desk."""

    @pytest.fixture
    def small_pages(self, monkeypatch):
        monkeypatch.setattr(console, "QUEUE_COUNT_CAP", 5)
        monkeypatch.setattr(console, "QUEUE_PAGES_AHEAD", 1)
        monkeypatch.setattr(admin.site.get_model_admin(Ticket), "list_per_page", 2)

    @pytest.fixture
    def twelve(self):
        return [TicketFactory(created_at=T0 + timedelta(minutes=n)) for n in range(12)]

    @staticmethod
    def paginator_text(response) -> str:
        html = response.content.decode()
        start = html.index('<p class="paginator">')
        return " ".join(html[start : html.index("</p>", start)].split())

    def test_a_queue_past_the_cap_shows_a_capped_count_and_the_pages_it_reached(
        self, client, agent, small_pages, twelve
    ):
        client.force_login(agent)
        response = client.get(CHANGELIST)
        assert "5+ tickets" in self.paginator_text(response)
        assert response.context["cl"].paginator.num_pages == 3
        assert results(response) == twelve[:2]

    def test_later_pages_stay_reachable_and_the_last_ones_get_the_exact_count(self, client, agent, small_pages, twelve):
        client.force_login(agent)
        third = client.get(CHANGELIST, {"p": 3})
        assert results(third) == twelve[4:6]
        assert "8+ tickets" in self.paginator_text(third)
        last = client.get(CHANGELIST, {"p": 6})
        assert results(last) == twelve[10:]
        assert "12 tickets" in self.paginator_text(last)
        assert "+" not in self.paginator_text(last)

    def test_a_filtered_queue_is_capped_the_same_way(self, client, agent, small_pages, twelve):
        client.force_login(agent)
        response = client.get(CHANGELIST, {"q": "wrong colour"})
        assert "5+ results" in response.content.decode()
        few = client.get(CHANGELIST, {"q": twelve[3].reference})
        assert results(few) == [twelve[3]]
        assert "1 result" in few.content.decode()

    def test_the_count_reads_a_bounded_number_of_rows(self, client, agent, twelve, django_assert_max_num_queries):
        client.force_login(agent)
        client.get(CHANGELIST)  # warm: the assignee filter's agents are cached
        with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES) as captured:
            client.get(CHANGELIST)
        counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
        assert counts
        assert all("LIMIT" in sql.upper() for sql in counts)


class TestChangePage:
    def test_shows_the_requester_and_the_times_in_one_read_only_field(self, client, agent, customer, settings):
        settings.TIME_ZONE = "UTC"
        ticket = TicketFactory(requester=customer, channel=Ticket.Channel.EMAIL, created_at=T0)
        client.force_login(agent)

        response = client.get(change_url(ticket))

        html = " ".join(response.content.decode().split())
        assert '<dl class="console-facts">' in html
        assert "<dt>Requester</dt><dd>alice@example.com</dd>" in html
        assert "<dt>Channel</dt><dd>Email</dd>" in html
        created = admin_utils.display_for_field(T0, Ticket._meta.get_field("created_at"), "-")
        assert f"<dt>Created</dt><dd>{created}</dd>" in html
        assert "<dt>Resolved</dt><dd>-</dd>" in html
        assert 'name="channel"' not in html

    def test_shows_the_thread_with_internal_notes_marked_and_escaped(self, client, agent, customer):
        ticket = TicketFactory(requester=customer)
        MessageFactory(ticket=ticket, author=customer, body="My cover <script>alert(1)</script>\nline two")
        MessageFactory(
            ticket=ticket,
            author=agent,
            body="Check the dye batch",
            internal=True,
            created_at=T0 + timedelta(minutes=5),
        )
        client.force_login(agent)

        response = client.get(change_url(ticket))

        assert response.status_code == 200
        html = response.content.decode()
        assert html.count('class="console-message console-message-internal"') == 1
        internal = html.split('class="console-message console-message-internal"', 1)[1].split("</article>")[0]
        assert "Internal note" in internal
        assert "Check the dye batch" in internal
        assert "My cover &lt;script&gt;alert(1)&lt;/script&gt;<br>line two" in html
        assert "<script>alert(1)" not in html
        # oldest first
        assert html.index("My cover") < html.index("Check the dye batch")
        # the reply form is its own <form>, not inside the change form (the conversation comes first)
        reply_form = html[html.index('id="console-reply-form"') :]
        assert reply_form.index("</form>") < reply_form.index('id="ticket_form"')
        assert html.count("</form>") >= 2
        assert f'action="{reply_url(ticket)}"' in html
        # requester shown read-only, not as a link to the user admin a tier-1 agent may not open
        assert "alice@example.com" in html
        assert "/admin/auth/user/" not in html

    def test_shows_the_timeline_with_old_and_new_values(self, client, agent, customer):
        ticket = TicketFactory(requester=customer, priority=Priority.P2)
        usecases.change(ticket=ticket, actor=agent, now=T0 + timedelta(minutes=3), priority=Priority.P0)
        client.force_login(agent)

        response = client.get(change_url(ticket))

        html = response.content.decode()
        timeline = html.split('id="timeline"', 1)[1]
        assert "<td>Created</td>" in timeline
        assert "P2 Medium" in timeline.split("<td>Created</td>", 1)[1].split("</tr>")[0]
        assert "Priority changed" in timeline
        assert '<span class="console-old">P2 Medium</span> → <span class="console-new">P0 Critical</span>' in timeline
        assert "Tina" in timeline

    def test_links_attachments_to_the_portal_download(self, client, agent, customer):
        ticket = TicketFactory(requester=customer)
        upload = SimpleUploadedFile("error.log", b"Traceback: boom\n", content_type="text/plain")
        message = usecases.reply(
            ticket=ticket, author=customer, body="log attached", attachments=check_uploads([upload]), now=T0
        )
        attachment = message.attachments.get()
        client.force_login(agent)

        html = client.get(change_url(ticket)).content.decode()

        url = reverse("portal:attachment", kwargs={"uuid": attachment.uuid})
        assert f'<a href="{url}">error.log</a>' in html

    def test_a_closed_ticket_is_view_only_without_reply_form(self, client, agent):
        ticket = TicketFactory(status=Status.CLOSED)
        client.force_login(agent)

        response = client.get(change_url(ticket))

        assert response.status_code == 200
        assert 'id="console-reply-form"' not in response.content.decode()
        assert client.post(change_url(ticket), form_data(ticket, priority="P0")).status_code == 403

    def test_assignee_choices_are_agents_only(self, client, agent, customer):
        ticket = TicketFactory(requester=customer)
        client.force_login(agent)

        response = client.get(change_url(ticket))

        choices = {str(user) for user in response.context["adminform"].form.fields["assignee"].queryset}
        assert "tier1@sofacoverpro.com" in choices
        assert "alice@example.com" not in choices
        assert "Tina (tier1@sofacoverpro.com)" in response.content.decode()


class TestChangeForm:
    def test_an_illegal_status_change_is_a_form_error_and_changes_nothing(self, client, agent):
        ticket = TicketFactory(status=Status.RESOLVED)
        events_before = ticket.events.count()
        client.force_login(agent)

        response = client.post(change_url(ticket), form_data(ticket, status=Status.NEW, priority="P0"))

        assert response.status_code == 200
        assert response.context["adminform"].form.errors["status"] == ["A resolved ticket cannot become new."]
        ticket.refresh_from_db()
        assert (ticket.status, ticket.priority) == (Status.RESOLVED, Priority.P2)
        assert ticket.events.count() == events_before

    def test_a_priority_change_goes_through_the_service_and_writes_an_event(self, client, agent):
        ticket = TicketFactory(priority=Priority.P2)
        client.force_login(agent)

        response = client.post(change_url(ticket), form_data(ticket, priority=Priority.P0))

        assert response.status_code == 302
        ticket.refresh_from_db()
        assert ticket.priority == Priority.P0
        assert ticket.updated_at > T0
        events = list(ticket.events.exclude(kind=TicketEvent.Kind.CREATED))
        assert [(e.kind, e.field, e.old_value, e.new_value, e.actor) for e in events] == [
            (TicketEvent.Kind.PRIORITY_CHANGED, "priority", "P2", "P0", agent)
        ]

    def test_status_and_assignee_changes_are_recorded(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)

        client.post(change_url(ticket), form_data(ticket, status=Status.PENDING_CUSTOMER, assignee=str(agent.pk)))

        ticket.refresh_from_db()
        assert (ticket.status, ticket.assignee) == (Status.PENDING_CUSTOMER, agent)
        kinds = set(ticket.events.values_list("kind", flat=True))
        assert {TicketEvent.Kind.STATUS_CHANGED, TicketEvent.Kind.ASSIGNED} <= kinds

    def test_a_customer_cannot_be_made_assignee(self, client, agent, other_customer):
        ticket = TicketFactory()
        client.force_login(agent)

        response = client.post(change_url(ticket), form_data(ticket, assignee=str(other_customer.pk)))

        assert response.status_code == 200
        assert "assignee" in response.context["adminform"].form.errors
        ticket.refresh_from_db()
        assert ticket.assignee is None

    def test_an_agent_who_left_is_refused_while_the_cached_choices_still_show_them(self, client, agent, tier2_agent):
        ticket = TicketFactory()
        client.force_login(agent)
        assert "tier2@sofacoverpro.com" in client.get(change_url(ticket)).content.decode()  # choices cached
        tier2_agent.is_staff = False
        tier2_agent.save(update_fields=["is_staff"])

        response = client.post(change_url(ticket), form_data(ticket, assignee=str(tier2_agent.pk)))

        assert "tier2@sofacoverpro.com" in response.content.decode()  # still shown for a minute
        assert "assignee" in response.context["adminform"].form.errors
        ticket.refresh_from_db()
        assert ticket.assignee is None

    def test_read_only_fields_are_not_changed_by_posting_them(self, client, agent, other_customer):
        ticket = TicketFactory()
        client.force_login(agent)

        client.post(
            change_url(ticket),
            form_data(ticket, description="hacked", requester=str(other_customer.pk), channel="api"),
        )

        ticket.refresh_from_db()
        assert ticket.description != "hacked"
        assert ticket.requester != other_customer
        assert ticket.channel == Ticket.Channel.PORTAL

    def test_tickets_cannot_be_added_and_only_superusers_delete(self, client, agent, admin_user):
        ticket = TicketFactory()
        client.force_login(agent)
        assert client.get(reverse("admin:tickets_ticket_add")).status_code == 403
        assert client.post(reverse("admin:tickets_ticket_delete", args=[ticket.pk]), {"post": "yes"}).status_code == 403
        assert "delete_selected" not in client.get(CHANGELIST).content.decode()
        assert Ticket.objects.filter(pk=ticket.pk).exists()

        client.force_login(admin_user)
        assert client.get(reverse("admin:tickets_ticket_delete", args=[ticket.pk])).status_code == 200


class TestReply:
    def test_a_public_reply_is_sent_and_sets_first_response(self, client, agent, time_machine):
        ticket = TicketFactory()
        replied_at = T0 + timedelta(minutes=9)
        time_machine.move_to(replied_at, tick=False)
        client.force_login(agent)

        response = client.post(reply_url(ticket), {"body": "We are on it."})

        assert response.status_code == 302
        assert response["Location"] == change_url(ticket) + "#thread"
        message = ticket.messages.get()
        assert (message.body, message.internal, message.author) == ("We are on it.", False, agent)
        ticket.refresh_from_db()
        assert ticket.first_responded_at == replied_at
        assert ticket.status == Status.OPEN
        assert ("success", "Reply sent to the customer.") in flashed(response)

    def test_an_internal_note_does_not_count_as_first_response(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)

        response = client.post(reply_url(ticket), {"body": "Ask the warehouse", "internal": "on"})

        assert response.status_code == 302
        note = ticket.messages.get()
        assert note.internal is True
        ticket.refresh_from_db()
        assert ticket.first_responded_at is None
        assert ticket.status == Status.NEW
        assert ("success", "Internal note added.") in flashed(response)

    def test_attachments_are_stored_with_the_reply(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)
        upload = SimpleUploadedFile("steps.txt", b"1. Remove the cover\n2. Wash at 30\n", content_type="text/plain")

        client.post(reply_url(ticket), {"body": "Care steps attached", "attachments": [upload]})

        attachment = ticket.messages.get().attachments.get()
        assert attachment.filename == "steps.txt"

    def test_a_refused_upload_is_an_error_message_and_nothing_is_written(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)
        upload = SimpleUploadedFile("invoice.txt", b"<html><script>x</script></html>", content_type="text/plain")

        response = client.post(reply_url(ticket), {"body": "see file", "attachments": [upload]})

        assert response.status_code == 302
        assert not ticket.messages.exists()
        levels_and_texts = flashed(response)
        assert len(levels_and_texts) == 1
        assert levels_and_texts[0][0] == "error"
        assert "web page or script content" in levels_and_texts[0][1]

    def test_an_empty_reply_is_an_error_message(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)

        response = client.post(reply_url(ticket), {"body": "   "})

        assert response.status_code == 302
        assert not ticket.messages.exists()
        assert flashed(response) == [("error", "Write a message or attach a file.")]

    def test_a_closed_ticket_refuses_replies_with_a_message(self, client, agent):
        ticket = TicketFactory(status=Status.CLOSED)
        client.force_login(agent)

        response = client.post(reply_url(ticket), {"body": "hello?"})

        assert response.status_code == 302
        assert not ticket.messages.exists()
        assert flashed(response) == [("error", "This ticket is closed. Please open a new ticket.")]

    def test_refuses_a_staff_user_without_work_permission(self, client):
        viewer = User.objects.create_user("viewer@sofacoverpro.com", password="x", is_staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_ticket"))
        ticket = TicketFactory()
        client.force_login(viewer)

        assert client.get(change_url(ticket)).status_code == 200
        response = client.post(reply_url(ticket), {"body": "hi"})

        assert response.status_code == 403
        assert not ticket.messages.exists()

    def test_requires_the_csrf_token(self, agent):
        ticket = TicketFactory()
        client = Client(enforce_csrf_checks=True)
        client.force_login(agent)

        response = client.post(reply_url(ticket), {"body": "forged"})

        assert response.status_code == 403
        assert not ticket.messages.exists()

    def test_refuses_get(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)

        assert client.get(reply_url(ticket)).status_code == 405

    def test_a_customer_is_sent_to_the_admin_login(self, client, customer):
        ticket = TicketFactory(requester=customer)
        client.force_login(customer)

        response = client.post(reply_url(ticket), {"body": "let me in"})

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
        assert not ticket.messages.exists()


class TestBulkActions:
    def run(self, client, action: str, tickets: list[Ticket]):
        return client.post(
            CHANGELIST, {"action": action, "_selected_action": [str(t.pk) for t in tickets], "index": "0"}
        )

    def test_assign_to_me(self, client, agent, tier2_agent):
        tickets = [TicketFactory(), TicketFactory(assignee=tier2_agent)]
        client.force_login(agent)

        response = self.run(client, "assign_to_me", tickets)

        assert response.status_code == 302
        assert {t.assignee for t in Ticket.objects.all()} == {agent}
        assert ("success", "Assigned to you: 2 tickets.") in flashed(response)

    def test_resolve_reports_the_refusals(self, client, agent):
        new = TicketFactory()
        closed = TicketFactory(status=Status.CLOSED)
        client.force_login(agent)

        response = self.run(client, "resolve_tickets", [new, closed])

        new.refresh_from_db()
        closed.refresh_from_db()
        assert new.status == Status.RESOLVED
        assert closed.status == Status.CLOSED
        assert flashed(response) == [
            ("success", "Resolved: 1 ticket."),
            ("warning", f"Refused {closed.reference}: A closed ticket cannot become resolved."),
        ]

    @pytest.mark.parametrize("priority", list(Priority))
    def test_set_priority(self, client, agent, priority):
        tickets = [TicketFactory(priority=Priority.P3 if priority != Priority.P3 else Priority.P2)]
        client.force_login(agent)

        response = self.run(client, f"set_priority_{priority.value.lower()}", tickets)

        assert Ticket.objects.get().priority == priority
        assert TicketEvent.objects.filter(kind=TicketEvent.Kind.PRIORITY_CHANGED, new_value=priority).count() == 1
        assert ("success", f"Priority set to {priority.label}: 1 ticket.") in flashed(response)

    def test_set_priority_refuses_closed_tickets(self, client, agent):
        closed = TicketFactory(status=Status.CLOSED)
        client.force_login(agent)

        response = self.run(client, "set_priority_p0", [closed])

        assert Ticket.objects.get().priority == Priority.P2
        assert flashed(response) == [
            ("warning", f"Refused {closed.reference}: This ticket is closed and can no longer be changed.")
        ]

    def test_actions_are_offered_with_their_labels(self, client, agent):
        TicketFactory()
        client.force_login(agent)

        html = client.get(CHANGELIST).content.decode()

        for label in ("Assign to me", "Resolve", "Set priority to P0 Critical", "Set priority to P3 Low"):
            assert label in html


class TestAccess:
    def test_a_tier_1_agent_cannot_reach_users_groups_or_tokens(self, client, agent):
        client.force_login(agent)

        assert client.get("/admin/auth/user/").status_code == 403
        assert client.get("/admin/auth/group/").status_code == 403
        assert client.get("/admin/authtoken/tokenproxy/").status_code == 403
        index = client.get("/admin/").content.decode()
        assert "/admin/tickets/ticket/" in index
        assert "/admin/auth/user/" not in index
        assert "/admin/authtoken/" not in index

    def test_tokens_are_for_superusers_even_with_the_permission(self, client, manager, admin_user):
        manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="authtoken"))
        client.force_login(manager)
        assert client.get("/admin/authtoken/tokenproxy/").status_code == 403

        client.force_login(admin_user)
        assert client.get("/admin/authtoken/tokenproxy/").status_code == 200

    @pytest.mark.parametrize("path", ["/admin/", CHANGELIST])
    def test_a_customer_is_redirected_to_the_admin_login(self, client, customer, path):
        client.force_login(customer)

        response = client.get(path)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))

    def test_a_customer_cannot_open_a_ticket_page(self, client, customer):
        ticket = TicketFactory(requester=customer)
        client.force_login(customer)

        response = client.get(change_url(ticket))

        assert response.status_code == 302
        assert Message.objects.count() == 0


class TestChangeFormRace:
    def test_a_service_refusal_after_validation_is_an_error_message_not_a_500(self, client, agent, monkeypatch):
        ticket = TicketFactory()

        def refuse(**kwargs):
            raise services.TicketClosed("This ticket is closed and can no longer be changed.")

        monkeypatch.setattr(console.services, "ticket_update", refuse)
        client.force_login(agent)

        response = client.post(change_url(ticket), form_data(ticket, priority=Priority.P0))

        assert response.status_code == 302
        assert response["Location"] == change_url(ticket)
        assert flashed(response) == [("error", "This ticket is closed and can no longer be changed.")]
        assert not LogEntry.objects.exists()
        ticket.refresh_from_db()
        assert ticket.priority == Priority.P2


class TestAgentChoices:
    def test_a_new_agent_is_a_choice_at_once(self, client, agent, django_capture_on_commit_callbacks):
        client.force_login(agent)
        client.get(CHANGELIST)  # the agents are cached
        with django_capture_on_commit_callbacks(execute=True):
            AgentFactory(email="newcomer@sofacoverpro.com", tier=2)

        html = client.get(CHANGELIST).content.decode()

        assert "?assignee=newcomer%40sofacoverpro.com" in html
