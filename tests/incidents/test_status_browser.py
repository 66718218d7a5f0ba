"""/status/ in headless Chromium: the components, an open incident's update, the uptime bars, subscribing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from incidents.models import Subscriber
from notifications.models import Notification
from support import usecases
from tests.browser import PHONE, chromium
from tests.tickets.factories import make_user

from .status_helpers import declare, resolve

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path, PHONE) as driver:
        yield driver


class TestStatusPage:
    def test_a_visitor_sees_components_the_open_incident_and_the_uptime_bars_and_subscribes(self, live_server, browser):
        agent = make_user("oncall@sofacoverpro.com", "agent")
        now = timezone.now()
        yesterday = now - timedelta(days=1)
        earlier = declare(
            agent, now=yesterday, severity="P0", title="Checkout was down", components=("checkout-payments",)
        )
        resolve(earlier, agent, now=yesterday + timedelta(minutes=30), message="Checkout works again.")
        incident = declare(agent, now=now, severity="P1", title="Order history is slow", components=("orders",))
        usecases.incident_update(
            incident=incident, author=agent, body="We have found a slow query.", status="identified", now=now
        )

        browser.get(f"{live_server.url}/status/")

        banner = browser.find_element(By.CSS_SELECTOR, ".status-banner")
        assert banner.text.startswith("Partial system outage")
        names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".component-head h3")]
        assert names == [
            "Storefront",
            "Checkout and payments",
            "Accounts and authentication",
            "Orders",
            "Database-backed services",
        ]
        orders = browser.find_element(By.ID, "component-orders")
        assert orders.find_element(By.CSS_SELECTOR, ".state").text == "Partial outage"
        current = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=status-open]")
        assert "Order history is slow" in current.text
        assert "We have found a slow query." in current.text
        assert "Identified" in current.text

        checkout = browser.find_element(By.ID, "component-checkout-payments")
        bars = checkout.find_elements(By.CSS_SELECTOR, ".uptime-bars .bar")
        assert len(bars) == 90
        assert bars[0].size["width"] > 0
        assert bars[0].size["height"] > 0
        # Yesterday's half hour of P0: red, and its uptime in the bar's title.
        red = [bar for bar in bars if "state-major_outage" in bar.get_attribute("class")]
        assert len(red) in (1, 2)  # 2 when the half hour crossed midnight
        assert "Major outage" in red[0].get_attribute("title")
        assert "% uptime" in red[0].get_attribute("title")
        assert red[0].value_of_css_property("background-color") == "rgba(179, 38, 30, 1)"
        assert bars[0].value_of_css_property("background-color") == "rgba(29, 122, 70, 1)"
        assert (
            "Checkout works again." in browser.find_element(By.ID, "status-history").find_element(By.XPATH, "..").text
        )

        browser.find_element(By.ID, "id_email").send_keys("watcher@example.com")
        browser.find_element(By.CSS_SELECTOR, "#subscribe button[type=submit]").click()
        WebDriverWait(browser, 15).until(ec.url_to_be(f"{live_server.url}/status/subscribe/done/"))
        assert "Check your inbox" in browser.page_source
        subscriber = Subscriber.objects.get(email="watcher@example.com")
        assert Notification.objects.filter(kind=Notification.Kind.STATUS_CONFIRM, recipient=subscriber.email).exists()

        browser.get(f"{live_server.url}/status/confirm/{subscriber.token}/")
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        WebDriverWait(browser, 15).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "You are subscribed"))
        subscriber.refresh_from_db()
        assert subscriber.active
