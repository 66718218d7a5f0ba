"""axe-core, run in headless Chromium on the pages customers and agents use: no serious or critical violation.

axe-core is the npm package pinned in package.json / package-lock.json (`make test` runs `npm ci` first).
Its script is injected into each page as loaded (WebDriver's scripts are not bound by the page's CSP), and
``axe.run()`` checks the rendered DOM: names of controls, labels, contrast, landmarks, the lang attribute...
Screenshots of each page go under var/screenshots/ for review.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from tests.browser import DESK, PHONE, chromium, screenshot  # first: skips the module without Chromium
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import PASSWORD, MessageFactory, TicketFactory, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}

RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]})
  .then((results) => done(results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "").slice(0, 200)),
  }))))
  .catch((error) => done([{id: "axe-error", impact: "critical", help: String(error), nodes: []}]));
"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    return AXE.read_text(encoding="utf-8")


def axe_violations(driver, source: str) -> list[dict]:
    driver.set_script_timeout(60)
    driver.execute_script(source)
    return driver.execute_async_script(RUN_AXE)


def check_pages(driver, source: str, base: str, pages: list[tuple[str, str]], size: str) -> None:
    """Load each page, run axe, keep a screenshot; fail listing every blocking violation of every page."""
    problems = []
    for name, path in pages:
        driver.get(base + path)
        assert "Server Error" not in driver.title, path
        screenshot(driver, f"a11y-{name}-{size}")
        for violation in axe_violations(driver, source):
            if violation["impact"] in BLOCKING:
                problems.append(f"{path}: [{violation['impact']}] {violation['id']}: {violation['help']}")
                problems.extend(f"    {node}" for node in violation["nodes"])
    assert not problems, "axe-core found serious or critical violations:\n" + "\n".join(problems)


def log_in(driver, base: str, path: str, email: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + path)
    driver.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form input[type=submit], main form button[type=submit]").click()
    WebDriverWait(driver, 15).until(ec.url_changes(base + path))


@pytest.fixture
def content(db):
    customer = make_user("carla@example.com", "customer", first_name="Carla")
    agent = make_user("tina@sofacoverpro.com", "agent", tier=1, first_name="Tina")
    ticket = TicketFactory(requester=customer, subject="Cushion cover zip broke")
    MessageFactory(ticket=ticket, author=agent, body="Sorry about that: a replacement is on its way.")
    article = ArticleFactory(
        title="How to measure your sofa",
        body="## Width\n\nMeasure from arm to arm.\n\n## Depth\n\nMeasure the seat.",
        tags=["sizing"],
    )
    return {"customer": customer, "agent": agent, "ticket": ticket, "article": article}


def test_public_pages_and_help_centre(live_server, tmp_path, axe_source, content):
    pages = [
        ("login", "/login/"),
        ("signup", "/signup/"),
        ("kb-home", "/kb/"),
        ("kb-article", f"/kb/{content['article'].slug}/"),
        ("kb-search", "/kb/search/?q=sofa"),
        ("kb-search-empty", "/kb/search/?q=zzzqqq"),
        ("status", "/status/"),
    ]
    with chromium(tmp_path, PHONE) as driver:
        check_pages(driver, axe_source, live_server.url, pages, "phone")
        # In German too (the switcher's cookie): longer words, the same structure.
        driver.add_cookie({"name": settings.LANGUAGE_COOKIE_NAME, "value": "de", "path": "/"})
        check_pages(driver, axe_source, live_server.url, [("de-home", "/"), ("de-kb-home", "/kb/")], "phone")
        assert driver.find_element("css selector", "html").get_attribute("lang") == "de"
        assert "Hilfe-Center" in driver.page_source


def test_customer_portal(live_server, tmp_path, axe_source, content):
    reference = content["ticket"].reference
    pages = [
        ("home", "/"),
        ("ticket-list", "/tickets/"),
        ("ticket-new", "/tickets/new/"),
        ("ticket", f"/tickets/{reference}/"),
    ]
    for size, window in (("phone", PHONE), ("desk", DESK)):
        with chromium(tmp_path / size, window) as driver:
            log_in(driver, live_server.url, "/login/", "carla@example.com")
            check_pages(driver, axe_source, live_server.url, pages, size)


def test_console_queue_and_ticket_page(live_server, tmp_path, axe_source, content):
    ticket = content["ticket"]
    pages = [
        ("console-queue", "/admin/tickets/ticket/"),
        ("console-ticket", f"/admin/tickets/ticket/{ticket.pk}/change/"),
    ]
    with chromium(tmp_path, DESK) as driver:
        log_in(driver, live_server.url, "/admin/login/", "tina@sofacoverpro.com")
        check_pages(driver, axe_source, live_server.url, pages, "desk")
