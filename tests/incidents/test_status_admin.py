"""The console's status page admin: managers edit components and maintenance, and every save refreshes the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from incidents import status
from incidents.models import Component, Maintenance, Subscriber

from .status_helpers import NOW, maintenance

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def window_form(**overrides) -> dict:
    data = {
        "title": "Payment provider upgrade",
        "description": "Card payments pause for ten minutes.",
        "components": [Component.objects.get(slug="checkout-payments").pk],
        "starts_at_0": "2026-12-08",
        "starts_at_1": "14:00:00",
        "ends_at_0": "2026-12-08",
        "ends_at_1": "16:00:00",
    }
    data.update(overrides)
    return data


class TestMaintenanceAdmin:
    def test_a_manager_adds_a_window_and_the_page_shows_it_at_once(
        self, client, manager, django_capture_on_commit_callbacks
    ):
        before = status.snapshot(now=NOW)
        client.force_login(manager)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/admin/incidents/maintenance/add/", window_form())
        assert response.status_code == 302, response.content.decode()[:2000]
        window = Maintenance.objects.get()
        assert window.created_at == NOW
        after = status.snapshot(now=NOW)
        assert after["version"] != before["version"]
        assert [w["title"] for w in after["maintenance"]] == ["Payment provider upgrade"]
        checkout = next(c for c in after["components"] if c["slug"] == "checkout-payments")
        assert checkout["state"] == "under_maintenance"  # the components are saved before the refresh

    def test_cancelling_takes_it_off_the_page(self, client, manager, django_capture_on_commit_callbacks):
        window = maintenance(starts_at=NOW + timedelta(days=1), ends_at=NOW + timedelta(days=1, hours=1))
        assert status.snapshot(now=NOW)["maintenance"]
        client.force_login(manager)
        form = window_form(
            title=window.title,
            starts_at_0="2026-12-09",
            ends_at_0="2026-12-09",
            starts_at_1="15:00:00",
            ends_at_1="16:00:00",
            cancelled="on",
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/admin/incidents/maintenance/{window.pk}/change/", form)
        assert response.status_code == 302
        assert status.snapshot(now=NOW)["maintenance"] == []

    def test_a_window_that_ends_before_it_starts_is_refused(self, client, manager):
        client.force_login(manager)
        response = client.post("/admin/incidents/maintenance/add/", window_form(ends_at_1="13:00:00"))
        assert response.status_code == 200
        assert "The window must end after it starts." in response.content.decode()
        assert not Maintenance.objects.exists()

    def test_agents_look_managers_edit(self, client, agent):
        client.force_login(agent)
        assert client.get("/admin/incidents/maintenance/").status_code == 200
        assert client.get("/admin/incidents/maintenance/add/").status_code == 403
        assert client.post("/admin/incidents/maintenance/add/", window_form()).status_code == 403


class TestComponentAdmin:
    def test_hiding_a_component_from_the_list_takes_it_off_the_page(
        self, client, manager, django_capture_on_commit_callbacks
    ):
        assert "orders" in [c["slug"] for c in status.snapshot(now=NOW)["components"]]
        components = list(Component.objects.order_by("position", "name"))
        form = {
            "form-TOTAL_FORMS": str(len(components)),
            "form-INITIAL_FORMS": str(len(components)),
            "_save": "Save",
        }
        for n, component in enumerate(components):
            form[f"form-{n}-id"] = str(component.pk)
            form[f"form-{n}-position"] = str(component.position)
            if component.slug != "orders":
                form[f"form-{n}-public"] = "on"
        client.force_login(manager)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/admin/incidents/component/", form)
        assert response.status_code == 302
        assert "orders" not in [c["slug"] for c in status.snapshot(now=NOW)["components"]]

    def test_a_manager_edits_the_ticket_categories_as_choices(self, client, manager):
        component = Component.objects.get(slug="orders")
        client.force_login(manager)
        page = client.get(f"/admin/incidents/component/{component.pk}/change/")
        assert page.status_code == 200
        assert 'value="payment"' in page.content.decode()
        response = client.post(
            f"/admin/incidents/component/{component.pk}/change/",
            {
                "name": "Orders",
                "slug": "orders",
                "description": "Order history.",
                "position": "3",
                "public": "on",
                "ticket_categories": ["orders", "payment"],
            },
        )
        assert response.status_code == 302
        component.refresh_from_db()
        assert component.ticket_categories == ["orders", "payment"]


class TestSubscriberAdmin:
    def test_managers_see_subscribers_agents_do_not_nobody_adds_one(self, client, manager, agent):
        Subscriber.objects.create(email="carla@example.com", created_at=NOW, confirmed_at=NOW)
        client.force_login(manager)
        listing = client.get("/admin/incidents/subscriber/")
        assert listing.status_code == 200
        assert "carla@example.com" in listing.content.decode()
        assert client.get("/admin/incidents/subscriber/add/").status_code == 403
        client.force_login(agent)
        assert client.get("/admin/incidents/subscriber/").status_code == 403
