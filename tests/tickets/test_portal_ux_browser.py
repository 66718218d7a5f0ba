"""The portal as a customer and as staff see it, in headless Chromium at a phone's and a desk's width:
readable suggestions above the ticket form's buttons, where staff land after signing in, the portal's
filters and dark mode. Screenshots go under var/screenshots/ for review."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import Organisation, OrganisationMember
from tests.browser import DESK, PHONE, chromium, screenshot
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import PASSWORD, T0, TicketFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SIZES = [pytest.param(PHONE, id="390"), pytest.param(DESK, id="1366")]

# The colour of an element's text and of the first opaque background behind it, as [r, g, b] lists.
COLOURS_JS = """
const el = arguments[0];
const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
const fg = rgb(getComputedStyle(el).color);
let node = el, bg = null;
while (node && node.nodeType === 1) {
  const c = rgb(getComputedStyle(node).backgroundColor);
  if (c.length >= 3 && (c.length === 3 || c[3] > 0)) { bg = c; break; }
  node = node.parentElement;
}
return [fg.slice(0, 3), (bg || [255, 255, 255]).slice(0, 3)];
"""


def contrast(fg: list[float], bg: list[float]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""

    def luminance(rgb: list[float]) -> float:
        channels = []
        for value in rgb:
            c = value / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def sign_in(browser, live_server, email: str, next_url: str = "") -> None:
    browser.get(f"{live_server.url}/login/{'?next=' + next_url if next_url else ''}")
    browser.find_element(By.ID, "id_username").send_keys(email)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda d: "/login/" not in d.current_url)


class TestContrastHelper:
    def test_white_on_white_fails_and_ink_on_white_passes(self):
        assert contrast([255, 255, 255], [255, 255, 255]) == pytest.approx(1.0)
        assert contrast([29, 35, 48], [255, 255, 255]) > 4.5


@pytest.mark.parametrize("size", SIZES)
class TestSuggestionsOnTheTicketForm:
    def test_suggested_titles_are_readable_and_sit_above_the_send_button(self, live_server, tmp_path, size):
        make_user("carla@example.com", "customer")
        ArticleFactory(title="Zip on the cover is stuck", slug="zip-stuck", body="Rub a pencil.", tags=["zip"])
        with chromium(tmp_path, size) as browser:
            sign_in(browser, live_server, "carla@example.com")
            browser.get(f"{live_server.url}/tickets/new/")
            browser.find_element(By.ID, "id_subject").send_keys("My zip is stuck")
            WebDriverWait(browser, 15).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, "#kb-suggestions .kb-suggestion"))
            )
            suggestion = browser.find_element(By.CSS_SELECTOR, "#kb-suggestions .kb-suggestion")
            assert suggestion.text == "Zip on the cover is stuck"

            fg, bg = browser.execute_script(COLOURS_JS, suggestion)
            assert contrast(fg, bg) >= 4.5, (fg, bg)

            panel = browser.find_element(By.ID, "kb-suggestions")
            send = browser.find_element(By.CSS_SELECTOR, "button[type=submit][form=ticket-form]:not([name])")
            last_field = browser.find_element(By.ID, "id_category")
            panel_box = panel.rect
            assert panel_box["y"] + panel_box["height"] <= send.rect["y"]
            assert last_field.rect["y"] < panel_box["y"]
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", panel)
            screenshot(browser, f"portal-suggestions-{size[0]}")

            # The buttons outside the <form> element still send it.
            browser.find_element(By.ID, "id_description").send_keys("It will not move.")
            browser.find_element(By.CSS_SELECTOR, "#id_category option[value=orders]").click()
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", send)
            send.click()
            WebDriverWait(browser, 15).until(ec.url_contains("/tickets/SCP-"))


@pytest.mark.parametrize("size", SIZES)
class TestStaffLanding:
    def test_a_manager_signs_in_lands_in_the_console_and_finds_the_reports(self, live_server, tmp_path, size):
        make_user("mona@sofacoverpro.com", "manager")
        with chromium(tmp_path, size) as browser:
            sign_in(browser, live_server, "mona@sofacoverpro.com")
            assert browser.current_url == f"{live_server.url}/admin/"
            screenshot(browser, f"console-landing-{size[0]}")
            reports = browser.find_element(By.CSS_SELECTOR, "#user-tools a.console-link-reports")
            assert reports.is_displayed()
            reports.click()
            WebDriverWait(browser, 15).until(ec.url_to_be(f"{live_server.url}/reports/"))

            browser.get(f"{live_server.url}/kb/")
            console = browser.find_element(By.LINK_TEXT, "Console")
            assert console.is_displayed()
            screenshot(browser, f"portal-header-staff-{size[0]}")
            console.click()
            WebDriverWait(browser, 15).until(ec.url_to_be(f"{live_server.url}/admin/"))

    def test_a_customer_lands_on_my_tickets_with_no_console_link(self, live_server, tmp_path, size):
        make_user("carla@example.com", "customer")
        with chromium(tmp_path, size) as browser:
            sign_in(browser, live_server, "carla@example.com")
            assert browser.current_url == f"{live_server.url}/tickets/"
            assert not browser.find_elements(By.LINK_TEXT, "Console")


# Text and its background on the portal's main surfaces: all must read at WCAG AA (4.5:1).
READABLE = ["body", "main h1", ".site-header a", "main a", "main button[type=submit]", ".ticket-filters label"]


def _set_dark(browser, dark: bool) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )


@pytest.mark.parametrize("size", SIZES)
class TestMyTicketsFiltersAndDarkMode:
    def test_filters_narrow_the_list(self, live_server, tmp_path, size):
        carla = make_user("carla@example.com", "customer")
        zip_ticket = TicketFactory(requester=carla, subject="Zip broke", priority="P1", created_at=T0)
        colour = TicketFactory(requester=carla, subject="Wrong colour", priority="P3", created_at=T0)
        with chromium(tmp_path, size) as browser:
            sign_in(browser, live_server, "carla@example.com")
            browser.find_element(By.CSS_SELECTOR, "#id_priority option[value=P3]").click()
            browser.find_element(By.CSS_SELECTOR, ".ticket-filters button[type=submit]").click()
            WebDriverWait(browser, 15).until(ec.url_contains("priority=P3"))
            links = {a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.tickets a")}
            assert links == {colour.reference}
            screenshot(browser, f"portal-filters-{size[0]}")

            browser.find_element(By.LINK_TEXT, "Clear filters").click()
            search = browser.find_element(By.ID, "id_q")
            search.send_keys("zip")
            search.submit()
            WebDriverWait(browser, 15).until(ec.url_contains("q=zip"))
            links = {a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.tickets a")}
            assert links == {zip_ticket.reference}
            filters = browser.find_element(By.CSS_SELECTOR, ".ticket-filters")
            assert filters.rect["width"] <= browser.execute_script("return document.documentElement.clientWidth")

    def test_dark_mode_follows_the_system_and_stays_readable(self, live_server, tmp_path, size):
        make_user("carla@example.com", "customer")
        with chromium(tmp_path, size) as browser:
            sign_in(browser, live_server, "carla@example.com")
            for dark in (False, True):
                _set_dark(browser, dark)
                browser.get(f"{live_server.url}/tickets/")
                fg, bg = browser.execute_script(COLOURS_JS, browser.find_element(By.TAG_NAME, "body"))
                luminance_bg = sum(bg) / 3
                assert (luminance_bg < 60) if dark else (luminance_bg > 200), (dark, bg)
                for selector in READABLE:
                    element = browser.find_element(By.CSS_SELECTOR, selector)
                    fg, bg = browser.execute_script(COLOURS_JS, element)
                    assert contrast(fg, bg) >= 4.5, (dark, selector, fg, bg)
                screenshot(browser, f"portal-{'dark' if dark else 'light'}-{size[0]}")


@pytest.mark.parametrize("size", SIZES)
class TestMyOrganisation:
    def test_a_colleagues_ticket_read_only(self, live_server, tmp_path, size):
        ann = make_user("ann@example.com", "customer", first_name="Ann")
        ben = make_user("ben@example.com", "customer", first_name="Ben")
        acme = Organisation.objects.create(name="Acme", shared=True)
        OrganisationMember.objects.create(user=ann, organisation=acme)
        OrganisationMember.objects.create(user=ben, organisation=acme)
        ticket = TicketFactory(requester=ben, subject="Ben's cover", created_at=T0)
        with chromium(tmp_path, size) as browser:
            sign_in(browser, live_server, "ann@example.com")
            browser.find_element(By.LINK_TEXT, "My organisation's tickets").click()
            browser.find_element(By.LINK_TEXT, ticket.reference).click()
            WebDriverWait(browser, 15).until(ec.url_contains(f"/organisation/tickets/{ticket.reference}/"))
            assert "Read-only" in browser.find_element(By.TAG_NAME, "main").text
            assert not browser.find_elements(By.CSS_SELECTOR, "main form")
            screenshot(browser, f"portal-organisation-{size[0]}")
