"""Saved views of the queue: an agent names the queue's filters, search and ordering; lists, opens,
renames and deletes their own; a manager shares one with the team; another agent's private view is a 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.tickets.factories import TicketFactory
from tickets.models import SavedView, Ticket

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:tickets_ticket_changelist")
SAVE = reverse("admin:tickets_ticket_view_save")
MANAGE = reverse("admin:tickets_ticket_views")
QUEUE_MAX_QUERIES = 4  # as tests/tickets/test_admin.py: the views come from the cache


def rename_url(view: SavedView) -> str:
    return reverse("admin:tickets_ticket_view_rename", args=[view.pk])


def delete_url(view: SavedView) -> str:
    return reverse("admin:tickets_ticket_view_delete", args=[view.pk])


def save(client, name: str, query: str, **extra) -> Any:
    return client.post(SAVE, {"name": name, "query": query, **extra})


class TestSaving:
    def test_saves_the_filters_search_and_ordering_and_opens_them(self, client, agent):
        p0 = TicketFactory(priority=Ticket.Priority.P0, subject="Checkout down")
        TicketFactory(priority=Ticket.Priority.P3, subject="Checkout colour")
        client.force_login(agent)

        response = save(client, "Urgent checkout", "priority__exact=P0&q=checkout&o=2&p=3")

        view = SavedView.objects.get(owner=agent)
        assert (view.name, view.query, view.shared) == ("Urgent checkout", "o=2&priority__exact=P0&q=checkout", False)
        assert response["Location"] == f"{CHANGELIST}?{view.query}"
        opened = client.get(response["Location"])
        assert list(opened.context["cl"].result_list) == [p0]
        html = client.get(CHANGELIST).content.decode()
        assert f'href="{CHANGELIST}?o=2&amp;priority__exact=P0&amp;q=checkout"' in html
        assert "Urgent checkout" in html

    def test_the_queue_lists_them_without_a_query_of_its_own(self, client, agent, django_assert_max_num_queries):
        TicketFactory()
        client.force_login(agent)
        save(client, "Mine", "assignee=me")
        client.get(CHANGELIST)  # warm: the assignee filter's agents and the views are cached
        with django_assert_max_num_queries(QUEUE_MAX_QUERIES):
            html = client.get(CHANGELIST).content.decode()
        assert ">Mine</a>" in html

    def test_a_view_of_the_same_name_is_replaced_and_a_name_is_required(self, client, agent):
        client.force_login(agent)
        save(client, "Mine", "assignee=me")
        save(client, "Mine", "assignee=none")
        assert list(SavedView.objects.values_list("query", flat=True)) == ["assignee=none"]
        save(client, "   ", "status__exact=new")
        assert SavedView.objects.count() == 1

    def test_only_managers_share(self, client, agent, manager):
        client.force_login(agent)
        save(client, "Team", "status__exact=new", shared="on")
        assert not SavedView.objects.exists()
        client.force_login(manager)
        save(client, "Team", "status__exact=new", shared="on")
        assert SavedView.objects.get().shared

    def test_save_is_post_only_and_for_agents(self, client, agent, customer):
        client.force_login(agent)
        assert client.get(SAVE).status_code == 405
        client.force_login(customer)
        save(client, "Nope", "")
        assert not SavedView.objects.exists()


class TestOthersViews:
    @pytest.fixture
    def views(self, client, agent, tier2_agent, manager):
        client.force_login(tier2_agent)
        save(client, "Private", "tier__exact=2")
        client.force_login(manager)
        save(client, "Shared", "status__exact=new", shared="on")
        client.force_login(agent)
        return SavedView.objects.get(name="Private"), SavedView.objects.get(name="Shared")

    def test_another_agents_private_view_is_not_listed(self, client, views):
        html = client.get(CHANGELIST).content.decode()
        assert ">Private</a>" not in html
        assert ">Shared</a>" in html

    def test_another_agents_views_cannot_be_renamed_or_deleted(self, client, views):
        for view in views:
            assert client.post(rename_url(view), {"name": "Mine now"}).status_code == 404
            assert client.post(delete_url(view)).status_code == 404
        assert SavedView.objects.count() == 2
        assert set(SavedView.objects.values_list("name", flat=True)) == {"Private", "Shared"}


class TestManaging:
    def test_rename_and_delete_own(self, client, agent):
        client.force_login(agent)
        save(client, "One", "assignee=me")
        save(client, "Two", "assignee=none")
        one, two = SavedView.objects.order_by("name")[0], SavedView.objects.get(name="Two")
        assert "One" in client.get(MANAGE).content.decode()

        client.post(rename_url(one), {"name": "Two"})  # taken: refused
        one.refresh_from_db()
        assert one.name == "One"
        client.post(rename_url(one), {"name": "Mine"})
        one.refresh_from_db()
        assert one.name == "Mine"
        assert ">Mine</a>" in client.get(CHANGELIST).content.decode()

        client.post(delete_url(two))
        assert list(SavedView.objects.values_list("name", flat=True)) == ["Mine"]
        assert ">Two</a>" not in client.get(CHANGELIST).content.decode()
