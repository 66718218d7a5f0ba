"""/status/, /api/v1/status/ and /status/feed.atom: what the public sees, and that nothing internal leaks."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from incidents import services as incident_services
from incidents import status
from incidents.models import Component, IncidentEvent, Review, ReviewItem, Subscriber
from support import usecases
from tests.tickets.factories import TicketFactory, make_user

from .status_helpers import NOW, declare, maintenance, resolve

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"
PUBLIC_DOORS = ("/status/", "/api/v1/status/", "/status/feed.atom")


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def fetch_all(client: Client) -> dict[str, str]:
    pages = {}
    for path in PUBLIC_DOORS:
        response = client.get(path)
        assert response.status_code == 200, path
        pages[path] = response.content.decode()
    refused = client.post("/status/subscribe/", {"email": "not an address"})
    assert refused.status_code == 400
    pages["/status/subscribe/ (refused)"] = refused.content.decode()
    return pages


class TestNothingInternalLeaks:
    """A canary in every internal field; the public doors must show the public ones and no canary."""

    CANARY = "zqcanary"

    def test_no_canary_on_the_page_the_api_or_the_feed(self, client):
        c = self.CANARY
        commander = make_user(f"{c}-commander@sofacoverpro.com", "agent", first_name=f"{c}Commander")
        declarer = make_user(f"{c}-declarer@sofacoverpro.com", "agent", last_name=f"{c}Declarer")
        hidden = Component.objects.create(
            name=f"{c} hidden component", slug=f"{c}-hidden", description=f"{c} hidden description", public=False
        )
        linked = TicketFactory(subject=f"{c} ticket subject", description=f"{c} ticket description")
        incident = declare(
            declarer,
            now=NOW - timedelta(minutes=30),
            severity="P0",
            title="Checkout is down",
            impact=f"{c} impact: every card payment fails",
            users_affected=987654321,
            war_room=f"https://meet.example.com/{c}-war-room",
            commander=commander,
            actions=[f"{c} roll back release 42"],
            functionality=f"{c} functionality",
            expected_resolution=f"{c} expected resolution",
            monitor_key=f"{c}-monitor",
            components=("checkout-payments", hidden.slug),
            ticket=linked,
            public_message="We are investigating failed payments.",
        )
        later = NOW - timedelta(minutes=20)
        usecases.incident_update(
            incident=incident, author=commander, body=f"{c} internal note", public=False, now=later
        )
        usecases.incident_update(
            incident=incident, author=commander, body="We found the cause.", status="identified", now=later
        )
        usecases.incident_edit(incident=incident, author=commander, now=later, war_room=f"{c}-room-2")
        incident_services.action_add(incident=incident, text=f"{c} page the provider", author=commander, now=later)
        usecases.incident_link(
            incident=incident, tickets=[TicketFactory(subject=f"{c} second")], by=commander, now=later
        )

        secret = declare(
            declarer,
            now=later,
            severity="P0",
            title=f"{c} non-public incident",
            public=False,
            public_message=f"{c} non-public first update",
            components=("storefront",),
        )
        IncidentEvent.objects.create(  # even an update marked public stays hidden with its incident
            incident=secret,
            kind=IncidentEvent.Kind.UPDATE,
            at=later,
            status="investigating",
            body=f"{c} leak",
            public=True,
        )

        past = declare(commander, now=NOW - timedelta(days=2), severity="P1", title="Sign-in was slow")
        usecases.resolve_incident(
            incident=past,
            by=commander,
            now=NOW - timedelta(days=2) + timedelta(hours=1),
            what_happened=f"{c} what happened",
            resolution=f"{c} resolution",
            prevention=f"{c} prevention",
            public_message="Sign-in is quick again.",
        )
        # Resolving a P0/P1 opened its review already (support.usecases.resolve_incident); a canary in its document.
        review, _ = Review.objects.update_or_create(
            incident=past, defaults={"opened_at": NOW - timedelta(days=1), "document": f"{c} review"}
        )
        ReviewItem.objects.create(
            review=review, phase="immediate", title=f"{c} item", notes=f"{c} notes", due_at=NOW, owner=commander
        )
        maintenance(
            title=f"{c} cancelled window",
            description=f"{c} cancelled description",
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1, hours=1),
            cancelled=True,
        )
        Subscriber.objects.create(email=f"{c}-subscriber@example.com", created_at=NOW, confirmed_at=NOW)

        pages = fetch_all(client)

        for path, text in pages.items():
            lowered = text.lower()
            assert c not in lowered, f"{path} shows {lowered[lowered.index(c) - 200 : lowered.index(c) + 100]}"
            assert "987654321" not in text, path
            assert linked.reference not in text, path
            assert "sofacoverpro.com" not in text, path  # no one from the desk
        for path in PUBLIC_DOORS:  # while the public parts are there
            assert "Checkout is down" in pages[path], path
            assert "We found the cause." in pages[path], path
        for path in ("/status/", "/api/v1/status/"):
            assert "Sign-in is quick again." in pages[path], path
            assert "We are investigating failed payments." in pages[path], path
            assert "Checkout and payments" in pages[path], path


class TestThePage:
    def test_shows_the_banner_components_incidents_bars_and_the_form(self, client, agent):
        incident = declare(agent, severity="P0", title="Checkout is down")
        usecases.incident_update(incident=incident, author=agent, body="Rolling back the release.", now=NOW)
        maintenance(starts_at=NOW + timedelta(days=1), ends_at=NOW + timedelta(days=1, hours=2))

        response = client.get("/status/")

        assert response.status_code == 200
        html = response.content.decode()
        assert "Major system outage" in html
        for name in ("Storefront", "Checkout and payments", "Accounts and authentication", "Orders"):
            assert name in html
        assert html.count('class="bar state-') == 5 * status.HISTORY_DAYS
        assert html.count('class="bar state-major_outage"') == 1  # today, for checkout
        assert "Rolling back the release." in html
        assert "Database upgrade" in html
        assert 'action="/status/subscribe/"' in html
        assert 'href="/status/feed.atom"' in html
        assert "csrfmiddlewaretoken" in html

    def test_a_warm_page_reads_nothing_from_the_database(self, client, django_assert_num_queries):
        assert client.get("/status/").status_code == 200
        with django_assert_num_queries(0):
            assert client.get("/status/").status_code == 200
            assert client.get("/api/v1/status/").status_code == 200
            assert client.get("/status/feed.atom").status_code == 200

    def test_a_signed_in_customer_sees_it_too_with_their_own_header(self, customer_client):
        anonymous = Client().get("/status/").content.decode()
        response = customer_client.get("/status/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "All systems operational" in html
        assert "signed in as alice@example.com" in html
        assert "Log out" in html
        assert "Log out" not in anonymous
        assert "alice@example.com" not in Client().get("/status/").content.decode()

    def test_each_anonymous_visitor_gets_a_working_token_of_their_own(self):
        tokens = []
        for _ in range(2):
            visitor = Client(enforce_csrf_checks=True)
            html = visitor.get("/status/").content.decode()
            found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
            assert found
            token = found.group(1)
            tokens.append(token)
            assert visitor.post("/status/subscribe/", {"email": "x@example.com"}).status_code == 403
            answer = visitor.post("/status/subscribe/", {"email": "x@example.com", "csrfmiddlewaretoken": token})
            assert answer.status_code == 302
        assert tokens[0] != tokens[1]
        assert "csrf-" not in html  # the placeholder never leaves

    @pytest.mark.parametrize("path", ["/status/", "/status/feed.atom"])
    def test_only_reads(self, client, path):
        assert client.post(path).status_code == 405
        assert client.head(path).status_code == 200

    def test_the_portal_and_the_help_centre_link_to_it(self, client):
        for path in ("/", "/kb/", "/login/"):
            assert 'href="/status/"' in client.get(path).content.decode(), path


class TestTheApi:
    def test_is_the_snapshot_as_json_for_anyone(self, client, agent, api_client_for):
        incident = declare(agent, severity="P1")
        usecases.incident_update(incident=incident, author=agent, body="Fix deployed", status="monitoring", now=NOW)

        for caller in (client, api_client_for(agent)):
            response = caller.get("/api/v1/status/")
            assert response.status_code == 200
            assert response["Content-Type"] == "application/json"
            assert "public" in response["Cache-Control"]
            body = response.json()
            assert set(body) == {
                "version",
                "generated_at",
                "state",
                "state_label",
                "components",
                "incidents",
                "maintenance",
                "history",
            }
            assert body["state"] == "partial_outage"
            [row] = body["incidents"]
            assert row["status"] == "monitoring"
            assert [u["body"] for u in row["updates"]] == ["Fix deployed", "We are looking into failed card payments."]
            assert row["started_at"] == "2026-12-08T14:50:00Z"
            checkout = next(c for c in body["components"] if c["slug"] == "checkout-payments")
            assert checkout["state"] == "partial_outage"
            assert len(checkout["days"]) == 90
            assert checkout["days"][-1]["date"] == "2026-12-08"

    def test_a_token_that_is_not_valid_is_refused_as_everywhere(self, client):
        assert client.get("/api/v1/status/", HTTP_AUTHORIZATION="Token not-a-token").status_code == 401

    def test_is_documented_in_the_schema(self, client):
        schema = client.get("/api/v1/schema/?format=json").json()
        operation = schema["paths"]["/api/v1/status/"]["get"]
        assert operation["operationId"] == "status_retrieve"
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        document = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(document["properties"]) == {
            "version",
            "generated_at",
            "state",
            "state_label",
            "components",
            "incidents",
            "maintenance",
            "history",
        }


class TestTheFeed:
    def test_is_atom_with_the_public_updates_and_maintenance(self, client, agent, settings):
        settings.DESK_BASE_URL = "https://help.example.com"
        incident = declare(agent, severity="P0", title="Checkout is down")
        usecases.incident_update(
            incident=incident, author=agent, body="Rolled <back> & watching.", status="monitoring", now=NOW
        )
        maintenance(
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1, hours=2),
            created_at=NOW - timedelta(hours=1),
        )

        response = client.get("/status/feed.atom")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/atom+xml")
        feed = ET.fromstring(response.content)
        assert feed.findtext(f"{ATOM}title") == "SofaCover Pro service status"
        entries = feed.findall(f"{ATOM}entry")
        assert [e.findtext(f"{ATOM}title") for e in entries] == [
            "Checkout is down: Monitoring",
            "Checkout is down: Investigating",
            "Scheduled maintenance: Database upgrade",
        ]
        first = entries[0]
        assert first.findall(f"{ATOM}link")[0].get("href") == (
            f"https://help.example.com/status/#incident-{status.public_id('incident', incident.pk)}"
        )
        assert first.findtext(f"{ATOM}summary") == "<p>Rolled &lt;back&gt; &amp; watching.</p>"
        assert first.findtext(f"{ATOM}updated") == "2026-12-08T15:00:00+00:00"
        assert "9 Dec 2026 15:00 GMT to 9 Dec 2026 17:00 GMT" in entries[2].findtext(f"{ATOM}summary", "")
        ids = [e.findtext(f"{ATOM}id") for e in entries]
        assert len(set(ids)) == 3

    def test_the_feed_built_by_a_german_request_is_the_same_for_everyone(self, client, agent):
        """The snapshot is shared across languages: a German visitor who builds it does not put German in it."""
        declare(agent, severity="P1", title="Checkout is slow")
        german = client.get("/status/", HTTP_ACCEPT_LANGUAGE="de")
        assert german.status_code == 200
        feed = ET.fromstring(client.get("/status/feed.atom").content)
        assert [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")] == ["Checkout is slow: Investigating"]

    def test_a_resolved_incident_keeps_its_updates_in_the_feed(self, client, agent):
        resolve(declare(agent), agent, now=NOW, message="All good now.")
        titles = [
            e.findtext(f"{ATOM}title")
            for e in ET.fromstring(client.get("/status/feed.atom").content).iter(f"{ATOM}entry")
        ]
        assert titles[0] == "Card payments fail: Resolved"
