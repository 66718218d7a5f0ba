"""Times in the viewer's time zone: the zone a user saved (copied into the session at sign-in), else the one
their browser reports in a cookie, else the desk's TIME_ZONE. The same ticket reads differently for two users."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.models import Preference
from sofacover.localtime import TIME_ZONE_COOKIE, TIME_ZONE_SESSION_KEY
from tests.tickets.factories import PASSWORD, TicketFactory

pytestmark = pytest.mark.django_db

FILED = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # summer: CEST (+2) in Berlin, EDT (-4) in New York


@pytest.fixture
def ticket(customer):
    return TicketFactory(requester=customer, created_at=FILED)


def ticket_page(client, ticket) -> str:
    response = client.get(reverse("portal:ticket-detail", kwargs={"reference": ticket.reference}))
    assert response.status_code == 200
    return response.content.decode()


def console_page(client, ticket) -> str:
    response = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_two_users_read_the_same_ticket_in_their_own_zones(client, customer, agent, ticket, settings):
    settings.TIME_ZONE = "Europe/London"
    # The customer saves Berlin on the preferences page.
    client.force_login(customer)
    response = client.post(reverse("portal:preferences"), {"time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    assert Preference.objects.get(user=customer).time_zone == "Europe/Berlin"
    html = ticket_page(client, ticket)
    assert "1 Jul 2026, 14:00 CEST" in html
    assert 'datetime="2026-07-01T14:00:00+02:00"' in html

    # The agent saved New York earlier; signing in (the console's login form) brings it into the session.
    Preference.objects.create(user=agent, time_zone="America/New_York")
    client.logout()
    response = client.post(reverse("admin:login"), {"username": agent.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[TIME_ZONE_SESSION_KEY] == "America/New_York"
    assert "1 Jul 2026, 08:00 EDT" in ticket_page(client, ticket)
    assert "1 Jul 2026, 8 a.m." in console_page(client, ticket)  # the console too (en-gb format)


def test_browser_cookie_is_the_default_and_the_desk_zone_the_last_resort(client, customer, ticket, settings):
    settings.TIME_ZONE = "Europe/London"
    client.force_login(customer)
    assert "1 Jul 2026, 13:00 BST" in ticket_page(client, ticket)  # no preference, no cookie: the desk's zone
    client.cookies[TIME_ZONE_COOKIE] = "America/New_York"
    assert "1 Jul 2026, 08:00 EDT" in ticket_page(client, ticket)
    client.cookies[TIME_ZONE_COOKIE] = "Mars/Olympus_Mons"  # unknown: ignored, never a 500
    assert "1 Jul 2026, 13:00 BST" in ticket_page(client, ticket)
    client.cookies[TIME_ZONE_COOKIE] = "../../etc/passwd"
    assert "1 Jul 2026, 13:00 BST" in ticket_page(client, ticket)
    # A saved zone wins over the browser's.
    client.cookies[TIME_ZONE_COOKIE] = "America/New_York"
    client.post(reverse("portal:preferences"), {"time_zone": "Asia/Tokyo"})
    assert "1 Jul 2026, 21:00 JST" in ticket_page(client, ticket)
    # Back to the browser's zone.
    client.post(reverse("portal:preferences"), {"time_zone": ""})
    assert "1 Jul 2026, 08:00 EDT" in ticket_page(client, ticket)


def test_unknown_zone_is_refused_with_a_field_error(client, customer):
    client.force_login(customer)
    response = client.post(reverse("portal:preferences"), {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 400
    assert 'id="id_time_zone_error"' in response.content.decode()
    assert not Preference.objects.filter(user=customer).exists()


def test_preferences_page_needs_sign_in_and_lists_zones(client, customer):
    assert client.get(reverse("portal:preferences")).status_code == 302
    client.force_login(customer)
    html = client.get(reverse("portal:preferences")).content.decode()
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in html
    assert '<option value="America/New_York">America/New York</option>' in html


def test_no_extra_query_for_the_zone_on_a_signed_in_page(client, customer, django_assert_max_num_queries):
    """The zone comes from the session the sign-in already reads: the page costs what it did before."""
    Preference.objects.create(user=customer, time_zone="Europe/Berlin")
    client.post(reverse("portal:login"), {"username": customer.email, "password": PASSWORD})
    client.get(reverse("portal:home"))
    with django_assert_max_num_queries(2):  # the session and the user
        html = client.get(reverse("portal:home")).content.decode()
    assert "How can we help?" in html


def test_the_browser_script_is_served_and_linked(client):
    html = client.get(reverse("portal:home")).content.decode()
    assert "accounts/timezone.js" in html
