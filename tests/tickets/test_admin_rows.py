"""The queue's rows built a column at a time are the rows Django's admin would write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import items_for_result
from django.test import RequestFactory
from django.urls import reverse

from sofacover import admin_rows
from support import usecases
from tests.tickets.factories import T0, AgentFactory, TicketFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
Status = Ticket.Status
Priority = Ticket.Priority
CHANGELIST = reverse("admin:tickets_ticket_changelist")


def changelist(user, model_admin=None, **params):
    request = RequestFactory().get(CHANGELIST, params)
    request.user = user
    cl = (model_admin or admin.site._registry[Ticket]).get_changelist_instance(request)
    cl.formset = None  # as changelist_view leaves it without list_editable
    return cl


def djangos_rows(cl) -> list[str]:
    return ["".join(items_for_result(cl, result, None)) for result in cl.result_list]


def our_rows(cl) -> list[str]:
    rows = list(admin_rows.results(cl))
    assert all(len(row) == 1 and row.form is None for row in rows)  # one joined string per row
    return [row[0] for row in rows]


@pytest.fixture
def desk(agent, customer, time_machine):
    """Tickets in every state the queue shows: assigned or not, answered, late, paused, closed, hostile text."""
    time_machine.move_to(T0, tick=False)
    other = AgentFactory(tier=2)
    tickets = [
        TicketFactory(requester=customer, priority=Priority.P0, subject='<script>alert("x")</script> & co'),
        TicketFactory(requester=customer, priority=Priority.P1, subject="Zip <broke>"),
        TicketFactory(requester=customer, priority=Priority.P2),
        TicketFactory(requester=customer, priority=Priority.P3, subject="Cover 'Oslo' \"grey\""),
    ]
    usecases.assign(ticket=tickets[0], assignee=agent, actor=agent, now=T0)
    usecases.assign(ticket=tickets[2], assignee=other, actor=agent, now=T0)
    usecases.reply(ticket=tickets[2], author=agent, body="On it.", internal=False, now=T0 + timedelta(minutes=5))
    usecases.change_status(ticket=tickets[3], to=Status.PENDING_CUSTOMER, actor=agent, now=T0)
    closed = TicketFactory(requester=customer, priority=Priority.P2)
    usecases.assign(ticket=closed, assignee=agent, actor=agent, now=T0)
    usecases.resolve(ticket=closed, actor=agent, now=T0 + timedelta(hours=1))
    usecases.change_status(ticket=closed, to=Status.CLOSED, actor=agent, now=T0 + timedelta(hours=2))
    time_machine.move_to(T0 + timedelta(hours=3), tick=False)  # the P0 is late by now
    return [*tickets, closed]


class TestSameHtmlAsDjango:
    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"priority__exact": "P0"},
            {"q": "cover", "o": "2"},
            {"status__exact": "closed", "assignee": "me"},
        ],
    )
    def test_the_queue_rows(self, desk, agent, params):
        cl = changelist(agent, **params)
        assert cl.result_list, "the parameters should leave some tickets"
        assert our_rows(cl) == djangos_rows(cl)

    def test_the_rows_escape_the_subject_and_link_with_the_filters_kept(self, client, desk, agent):
        client.force_login(agent)
        cl = client.get(CHANGELIST, {"priority__exact": "P0"}).context["cl"]  # resolved: filters preserved
        (row,) = our_rows(cl)
        assert [row] == djangos_rows(cl)
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in row
        assert "<script>" not in row
        ticket = desk[0]
        link = f'<a href="/admin/tickets/ticket/{ticket.pk}/change/?_changelist_filters=priority__exact%3DP0">'
        assert f'<th class="field-reference">{link}{ticket.reference}</a></th>' in row

    def test_other_kinds_of_columns(self, desk, admin_user):
        """Auto-created and date fields, foreign keys, booleans, lambdas, empty values, properties, __str__."""

        @admin.display(boolean=True, description="answered")
        def answered(ticket):
            return ticket.first_responded_at is not None

        @admin.display(empty_value="(nobody)")
        def helper(ticket):
            return ticket.assignee.username if ticket.assignee else None

        class Columns(admin.ModelAdmin):
            list_display = (
                "id",
                "__str__",
                "created_at",
                "requester",
                "assignee",
                "tier",
                answered,
                helper,
                lambda ticket: ticket.subject.upper(),
                "pk",
            )
            list_display_links = ("created_at", "requester")

        cl = changelist(admin_user, Columns(Ticket, admin.site))
        rows = our_rows(cl)
        assert rows == djangos_rows(cl)
        assert any('class="field-created_at nowrap"' in row and "<th" in row for row in rows)
        assert any("(nobody)" in row for row in rows)
        assert any('src="/static/admin/img/icon-yes.svg"' in row for row in rows)

    def test_no_links_at_all(self, desk, admin_user):
        class Unlinked(admin.ModelAdmin):
            list_display = ("reference", "subject", "status")
            list_display_links = None

        cl = changelist(admin_user, Unlinked(Ticket, admin.site))
        rows = our_rows(cl)
        assert rows == djangos_rows(cl)
        assert not any("<a " in row or "<th" in row for row in rows)


def test_popups_take_djangos_own_path(desk, agent):
    cl = changelist(agent, _popup="1")
    rows = list(admin_rows.results(cl))
    assert [list(row) for row in rows] == [list(items_for_result(cl, result, None)) for result in cl.result_list]
    assert all(len(row) > 1 for row in rows)


def test_the_queue_page_uses_the_rows(client, desk, agent):
    client.force_login(agent)
    response = client.get(CHANGELIST)
    cl = response.context["cl"]
    html = response.content.decode()
    for row in djangos_rows(cl):
        assert f"<tr>{row}</tr>" in html
