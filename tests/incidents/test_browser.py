"""The console's incident page in headless Chromium: an agent logs in, declares an incident through the
form, posts a status update and sees it on the timeline."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from incidents.models import Incident, IncidentEvent
from tests.browser import chromium
from tests.tickets.factories import PASSWORD, make_user

# serialized_rollback: the flush after a transactional test would also wipe the roles, policies and
# components seeded by migrations, which the tests that run after this one rely on.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path, (1280, 900)) as driver:
        yield driver


class TestIncidentPage:
    def test_an_agent_declares_an_incident_posts_an_update_and_sees_it_on_the_timeline(self, live_server, browser):
        make_user("oncall@sofacoverpro.com", "agent", tier=2, first_name="Omar")
        wait = WebDriverWait(browser, 15)

        browser.get(f"{live_server.url}/admin/login/")
        browser.find_element(By.ID, "id_username").send_keys("oncall@sofacoverpro.com")
        browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "#login-form input[type=submit]").click()
        wait.until(ec.url_to_be(f"{live_server.url}/admin/"))

        browser.get(f"{live_server.url}/admin/incidents/incident/add/")
        Select(browser.find_element(By.ID, "id_severity")).select_by_value("P1")
        browser.find_element(By.ID, "id_title").send_keys("Checkout is failing")
        browser.find_element(By.ID, "id_impact").send_keys("Card payments fail for about a third of customers")
        browser.find_element(By.ID, "id_users_affected").send_keys("400")
        browser.find_element(By.ID, "id_war_room").send_keys("https://meet.example.com/checkout")
        browser.find_element(By.ID, "id_actions").send_keys("Roll back release 42\nPage the payments provider")
        browser.find_element(By.XPATH, "//label[contains(., 'Checkout and payments')]/input").click()
        browser.find_element(By.CSS_SELECTOR, "#incident-declare-form input[type=submit]").click()
        wait.until(ec.url_matches(r"/admin/incidents/incident/\d+/change/$"))

        incident = Incident.objects.get()
        assert browser.find_element(By.ID, "incident-title").text == f"{incident.reference} · Checkout is failing"
        assert browser.find_element(By.ID, "incident-commander").text == "Omar"
        war_room = browser.find_element(By.CSS_SELECTOR, "#incident-war-room a")
        assert war_room.get_attribute("href") == "https://meet.example.com/checkout"
        assert "in 1 h 59 min" in browser.find_element(By.ID, "incident-next-update").text
        assert "Roll back release 42" in browser.find_element(By.ID, "actions").text

        Select(browser.find_element(By.ID, "id_update-status")).select_by_value("identified")
        browser.find_element(By.ID, "id_update-body").send_keys("Release 42 broke card payments; rolling back.")
        browser.find_element(By.CSS_SELECTOR, "#incident-update-form input[type=submit]").click()
        wait.until(ec.url_contains("#timeline"))

        assert browser.find_element(By.ID, "incident-status").text == "Identified"
        newest = browser.find_element(By.CSS_SELECTOR, "#timeline tbody tr")
        assert "Release 42 broke card payments; rolling back." in newest.text
        assert "PUBLIC" in newest.text.upper()
        assert "Status changed" in newest.text
        assert "Update posted." in browser.page_source
        event = incident.events.latest("id")
        assert (event.kind, event.status, event.public) == (IncidentEvent.Kind.STATUS, "identified", True)

        stylesheet = browser.find_element(
            By.CSS_SELECTOR, "link[rel=stylesheet][href*='incidents/console']"
        ).get_attribute("href")
        browser.get(stylesheet)
        assert ".incident-due-overdue" in browser.page_source
