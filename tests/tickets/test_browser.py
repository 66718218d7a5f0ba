"""One end-to-end pass through the portal in headless Chromium: log in, file a ticket, find it listed."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import PHONE, chromium
from tests.tickets.factories import PASSWORD, make_user
from tickets.models import Ticket

# serialized_rollback: the flush after a transactional test would also wipe the roles and
# policies seeded by migrations, which the tests that run after this one rely on.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path, PHONE) as driver:
        yield driver


class TestCustomerJourney:
    def test_customer_logs_in_files_a_ticket_and_sees_it_listed(self, live_server, browser):
        make_user("carla@example.com", "customer", first_name="Carla")
        wait = WebDriverWait(browser, 15)

        browser.get(f"{live_server.url}/login/")
        browser.find_element(By.ID, "id_username").send_keys("carla@example.com")
        browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait.until(ec.url_to_be(f"{live_server.url}/tickets/"))
        assert "You have no tickets yet." in browser.page_source

        browser.get(f"{live_server.url}/tickets/new/")
        browser.find_element(By.ID, "id_subject").send_keys("Cushion cover zip broke")
        browser.find_element(By.ID, "id_description").send_keys("The zip came apart after two days.")
        browser.find_element(By.CSS_SELECTOR, "input[name=priority][value=P1]").click()
        browser.find_element(By.CSS_SELECTOR, "#id_category option[value=orders]").click()
        browser.find_element(By.CSS_SELECTOR, "button[type=submit][form=ticket-form]:not([name])").click()
        wait.until(ec.url_contains("/tickets/SCP-"))

        ticket = Ticket.objects.get()
        assert ticket.subject == "Cushion cover zip broke"
        assert ticket.priority == "P1"
        assert ticket.category == "orders"
        assert f"Your ticket {ticket.reference} has been filed" in browser.page_source

        browser.get(f"{live_server.url}/tickets/")
        link = browser.find_element(By.LINK_TEXT, ticket.reference)
        assert link.get_attribute("href") == f"{live_server.url}/tickets/{ticket.reference}/"
        assert "Cushion cover zip broke" in browser.page_source
        assert "P1 High" in browser.page_source

        stylesheet = browser.find_element(By.CSS_SELECTOR, "link[rel=stylesheet]").get_attribute("href")
        browser.get(stylesheet)
        assert ".skip-link" in browser.page_source
