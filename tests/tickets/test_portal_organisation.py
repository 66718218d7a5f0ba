"""The portal's "My tickets" filters, and "my organisation": customers of one company read each other's
tickets (read-only, public messages only) when a manager opted the organisation in, and never otherwise."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import Organisation, OrganisationMember
from support import usecases
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

LIST = "/organisation/tickets/"
NOTE = "zqx-internal-note-canary"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def acme(agent):
    """Acme (shared): ann and ben; Globex (shared): gus; Initech (not shared): ida and ivo; nobody: nat."""
    people = {
        name: make_user(f"{name}@example.com", "customer", first_name=name.title())
        for name in ("ann", "ben", "gus", "ida", "ivo", "nat")
    }
    orgs = {
        "acme": Organisation.objects.create(name="Acme", shared=True),
        "globex": Organisation.objects.create(name="Globex", shared=True),
        "initech": Organisation.objects.create(name="Initech", shared=False),
    }
    for name, org in (("ann", "acme"), ("ben", "acme"), ("gus", "globex"), ("ida", "initech"), ("ivo", "initech")):
        OrganisationMember.objects.create(user=people[name], organisation=orgs[org])
    tickets = {
        name: TicketFactory(requester=people[name], subject=f"{name.title()}'s sofa cover", created_at=T0)
        for name in ("ann", "ben", "gus", "ida", "ivo", "nat")
    }
    usecases.reply(ticket=tickets["ben"], author=agent, body=NOTE, internal=True, now=T0 + timedelta(minutes=5))
    usecases.reply(ticket=tickets["ben"], author=agent, body="We sent a new zip.", now=T0 + timedelta(minutes=6))
    return people, orgs, tickets


class TestMyOrganisation:
    def test_a_member_of_a_shared_organisation_reads_a_colleagues_ticket(self, acme):
        people, _, tickets = acme
        client = signed_in(people["ann"])

        listing = client.get(LIST).content.decode()
        assert tickets["ben"].reference in listing
        assert tickets["ann"].reference in listing
        for other in ("gus", "ida", "ivo", "nat"):
            assert tickets[other].reference not in listing

        page = client.get(f"{LIST}{tickets['ben'].reference}/")
        html = page.content.decode()
        assert page.status_code == 200
        assert "We sent a new zip." in html
        assert NOTE not in html
        main = html.split("<main", 1)[1].split("</main>", 1)[0]
        assert "<form" not in main  # read-only: no reply, resolve or reopen form

    def test_my_tickets_links_to_the_organisation_only_when_shared(self, acme):
        people, _, _ = acme
        assert LIST in signed_in(people["ann"]).get("/tickets/").content.decode()
        assert LIST not in signed_in(people["ida"]).get("/tickets/").content.decode()
        assert LIST not in signed_in(people["nat"]).get("/tickets/").content.decode()

    @pytest.mark.parametrize("who", ["ida", "nat", "gus"])
    def test_opted_out_no_or_another_organisation_sees_nothing(self, acme, who):
        people, _, tickets = acme
        client = signed_in(people[who])
        if who != "gus":
            assert client.get(LIST).status_code == 404
        for owner in ("ann", "ben"):
            assert client.get(f"{LIST}{tickets[owner].reference}/").status_code == 404

    def test_an_opted_out_colleague_is_not_readable(self, acme):
        people, _, tickets = acme
        assert signed_in(people["ida"]).get(f"{LIST}{tickets['ivo'].reference}/").status_code == 404

    def test_the_manager_opting_out_closes_it_at_once(self, acme):
        people, orgs, tickets = acme
        client = signed_in(people["ann"])
        assert client.get(f"{LIST}{tickets['ben'].reference}/").status_code == 200
        orgs["acme"].shared = False
        orgs["acme"].save()
        assert client.get(LIST).status_code == 404
        assert client.get(f"{LIST}{tickets['ben'].reference}/").status_code == 404

    def test_a_colleague_cannot_reply_resolve_or_open_the_ticket_page(self, acme):
        people, _, tickets = acme
        client = signed_in(people["ann"])
        reference = tickets["ben"].reference
        assert client.get(f"/tickets/{reference}/").status_code == 404
        assert client.post(f"/tickets/{reference}/reply/", {"body": "Me too"}).status_code == 404
        assert client.post(f"/tickets/{reference}/resolve/", {}).status_code == 404
        assert Ticket.objects.get(pk=tickets["ben"].pk).messages.filter(body="Me too").count() == 0

    def test_a_colleague_never_reads_internal_notes_through_the_list_search(self, acme):
        people, _, _ = acme
        html = signed_in(people["ann"]).get(LIST, {"q": NOTE}).content.decode()
        # The search box and the language switcher's way back hold the words searched for; nothing else may.
        shown = re.sub(r'<input type="hidden" name="next" value="[^"]*">', "", html).replace(f'value="{NOTE}"', "")
        assert NOTE not in shown

    def test_staff_have_the_console_not_this_page(self, acme, agent):
        _, orgs, _ = acme
        OrganisationMember.objects.create(user=agent, organisation=orgs["acme"])
        assert signed_in(agent).get(LIST).status_code == 404

    def test_a_manager_sets_the_organisation_in_the_console(self, acme, manager):
        _, orgs, _ = acme
        client = signed_in(manager)
        page = client.get(f"/admin/accounts/organisation/{orgs['initech'].pk}/change/")
        assert page.status_code == 200
        assert "members see each other" in page.content.decode().lower()

    def test_an_agent_may_read_but_not_change_organisations(self, acme, agent):
        _, orgs, _ = acme
        client = signed_in(agent)
        assert client.get("/admin/accounts/organisation/").status_code == 200
        response = client.post(
            f"/admin/accounts/organisation/{orgs['initech'].pk}/change/", {"name": "Initech", "shared": "on"}
        )
        assert response.status_code == 403
        orgs["initech"].refresh_from_db()
        assert not orgs["initech"].shared


class TestMyTicketsFilters:
    @pytest.fixture
    def mine(self, customer, other_customer):
        make = TicketFactory
        return {
            "zip": make(requester=customer, subject="Zip broke", priority="P1", channel="email", created_at=T0),
            "colour": make(requester=customer, subject="Wrong colour", priority="P3", channel="portal", created_at=T0),
            "theirs": make(requester=other_customer, subject="Zip too", priority="P1", channel="email", created_at=T0),
        }

    def _refs(self, client, **params) -> set[str]:
        html = client.get("/tickets/", params).content.decode()
        return {ref for ref in (t.reference for t in Ticket.objects.all()) if f">{ref}</a>" in html}

    def test_each_filter_narrows_my_own_tickets(self, customer, mine):
        client = signed_in(customer)
        assert self._refs(client) == {mine["zip"].reference, mine["colour"].reference}
        assert self._refs(client, priority="P1") == {mine["zip"].reference}
        assert self._refs(client, channel="portal") == {mine["colour"].reference}
        assert self._refs(client, q="zip") == {mine["zip"].reference}
        assert self._refs(client, q=mine["colour"].reference.lower()) == {mine["colour"].reference}
        assert self._refs(client, status="new", priority="P3") == {mine["colour"].reference}
        assert self._refs(client, q="Zip too") == set()  # another customer's subject

    def test_a_filter_that_matches_nothing_says_so(self, customer, mine):
        html = signed_in(customer).get("/tickets/", {"priority": "P0"}).content.decode()
        assert "No tickets match these filters." in html

    @pytest.mark.parametrize("params", [{"priority": "P9"}, {"status": "gone"}, {"channel": "fax"}])
    def test_bad_values_are_a_400_with_the_fields_error(self, customer, mine, params):
        response = signed_in(customer).get("/tickets/", params)
        assert response.status_code == 400
        assert "errorlist" in response.content.decode()

    def test_a_null_character_is_a_400_not_a_500(self, customer, mine):
        assert signed_in(customer).get("/tickets/", {"q": "a\x00b"}).status_code == 400
