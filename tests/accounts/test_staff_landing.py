"""Where staff land after signing in at the portal, and the links between the portal, the console and the reports."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.tickets.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, email: str, next_url: str = ""):
    url = reverse("portal:login") + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"username": email, "password": PASSWORD})


class TestLandingAfterLogin:
    @pytest.mark.parametrize("who", ["agent", "tier2_agent", "manager", "admin_user"])
    def test_staff_go_to_the_console(self, client, request, who):
        user = request.getfixturevalue(who)
        response = _sign_in(client, user.email)
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:index")

    def test_a_customer_still_goes_to_my_tickets(self, client, customer):
        assert _sign_in(client, customer.email)["Location"] == reverse("portal:ticket-list")

    def test_next_wins_for_staff(self, client, agent):
        assert _sign_in(client, agent.email, "/kb/")["Location"] == "/kb/"

    def test_an_open_redirect_in_next_sends_staff_to_the_console(self, client, agent):
        response = client.post(
            reverse("portal:login"), {"username": agent.email, "password": PASSWORD, "next": "https://evil.example/"}
        )
        assert response["Location"] == reverse("admin:index")

    def test_a_signed_in_agent_opening_the_login_page_goes_to_the_console(self, client, agent):
        client.force_login(agent)
        response = client.get(reverse("portal:login"))
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:index")


class TestLinks:
    def test_the_portal_header_links_staff_to_the_console(self, client, agent):
        client.force_login(agent)
        html = client.get(reverse("kb:home")).content.decode()
        assert f'<a href="{reverse("admin:index")}">Console</a>' in html

    def test_customers_see_no_console_link(self, client, customer):
        client.force_login(customer)
        html = client.get(reverse("portal:ticket-list")).content.decode()
        assert reverse("admin:index") not in html
        assert ">Console<" not in html

    def test_the_console_links_managers_to_the_reports(self, client, manager):
        client.force_login(manager)
        html = client.get(reverse("admin:index")).content.decode()
        assert f'href="{reverse("reports:index")}"' in html
        assert f'href="{reverse("admin:notifications_dashboarditem_changelist")}"' in html

    def test_agents_without_the_reports_permission_get_no_reports_link(self, client, agent):
        client.force_login(agent)
        html = client.get(reverse("admin:index")).content.decode()
        assert f'href="{reverse("reports:index")}"' not in html
        assert f'href="{reverse("admin:notifications_dashboarditem_changelist")}"' in html
