"""The console's lists in headless Chromium: the queue, the outbox and the SLA breaches fit a desk's
1366 px screen with every column on it, and the queue stays usable on a 390 px phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from selenium.webdriver.common.by import By

from escalation.models import SlaBreach
from notifications.models import Notification
from tests.browser import DESK, PHONE, chromium, screenshot
from tests.tickets.factories import TicketFactory, make_user
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# What the page measures: the table against its box, each column's header against the window.
MEASURE = """
const table = document.getElementById('result_list');
const box = table.closest('.results') || table.parentElement;
const columns = {};
for (const th of table.querySelectorAll('thead th')) {
  const name = [...th.classList].find(c => c.startsWith('column-'));
  if (!name) continue;
  const rect = th.getBoundingClientRect();
  columns[name.slice(7)] = {left: rect.left, right: rect.right, width: rect.width};
}
return {
  tableScroll: table.scrollWidth, boxScroll: box.scrollWidth, boxClient: box.clientWidth,
  pageScroll: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth,
  columns: columns,
};
"""
OUTBOX_COLUMNS: tuple[str, ...] = ("created", "channel", "kind", "recipient_cell", "subject_cell", "status")
OUTBOX_COLUMNS += ("attempts_cell", "error_cell")
LONG_SUBJECT = "Checkout fails with an error after the card is charged twice, and again on the retry, order {}"
LONG_EMAIL = "a.very.long.requester.address.for.testing@customer-example-company.com"


def sign_in(browser, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    browser.get(f"{live_server.url}/admin/login/")
    browser.add_cookie(
        {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}
    )


def assert_fits(browser, columns: tuple[str, ...]) -> dict:
    measured = browser.execute_script(MEASURE)
    assert measured["tableScroll"] <= measured["boxClient"], measured
    assert measured["boxScroll"] <= measured["boxClient"], measured
    assert measured["pageScroll"] <= measured["viewport"], measured
    for column in columns:
        where = measured["columns"][column]
        assert where["width"] > 0, (column, measured)
        assert where["left"] >= 0, (column, measured)
        assert where["right"] <= measured["viewport"], (column, measured)
    return measured


@pytest.fixture
def busy_desk(db):
    """Long subjects, names and addresses on every row: the widest a queue gets."""
    manager = make_user("manager@sofacoverpro.com", "manager", first_name="Maria", last_name="Long-Surname-Manager")
    agent = make_user("tier1@sofacoverpro.com", "agent", tier=1, first_name="Tina", last_name="Long-Surname-Agent")
    requester = make_user(LONG_EMAIL, "customer")
    now = timezone.now()
    tickets = [
        TicketFactory(
            requester=requester,
            assignee=agent if n % 2 else None,
            priority=list(Ticket.Priority)[n % 4],
            subject=LONG_SUBJECT.format(n),
            created_at=now - timedelta(days=n, hours=3),
        )
        for n in range(6)
    ]
    for n, ticket in enumerate(tickets):
        SlaBreach.objects.create(
            ticket=ticket,
            kind=SlaBreach.Kind.FIRST_RESPONSE,
            due_at=now - timedelta(hours=n + 2),
            breached_at=now - timedelta(hours=n + 1),
            tier=ticket.tier,
            priority=ticket.priority,
        )
        Notification.objects.create(
            channel=Notification.Channel.EMAIL,
            kind=Notification.Kind.BREACHED,
            recipient=f"escalations-team-{n}@sofacoverpro-support-operations.example.com",
            ticket=ticket,
            subject=f"[{ticket.reference}] Breach: first response overdue on {LONG_SUBJECT.format(n)}",
            body="…",
            dedupe_key=f"queue-browser-{n}",
            status=Notification.Status.PENDING if n % 2 else Notification.Status.DEAD,
            attempts=n,
            next_attempt_at=now + timedelta(minutes=n),
            last_error="SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable, user unknown at the far end " * 3,
            created_at=now - timedelta(minutes=n),
        )
    return {"agent": agent, "manager": manager}


class TestDesk:
    def test_the_queue_fits_1366_px_with_every_column_on_screen(self, live_server, tmp_path, busy_desk):
        with chromium(tmp_path, DESK) as browser:
            sign_in(browser, live_server, busy_desk["agent"])
            browser.get(f"{live_server.url}/admin/tickets/ticket/")
            assert len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) == 6
            screenshot(browser, "queue-1366")
            assert_fits(
                browser,
                (
                    "reference",
                    "subject",
                    "priority_label",
                    "status",
                    "response_due",
                    "resolution_due",
                    "tier",
                    "assignee_label",
                    "requester_email",
                    "age",
                ),
            )
            # Clipped, not lost: the whole value is the cell's title.
            requester = browser.find_element(By.CSS_SELECTOR, "#result_list td.field-requester_email .queue-clip")
            assert requester.get_attribute("title") == LONG_EMAIL
            subject = browser.find_element(By.CSS_SELECTOR, "#result_list td.field-subject .queue-clip")
            assert (subject.get_attribute("title") or "").startswith("Checkout fails with an error")
            # The filters are a panel above the table; opening it keeps the table's width.
            browser.find_element(By.CSS_SELECTOR, "#queue-filters > summary").click()
            assert browser.find_element(By.PARTIAL_LINK_TEXT, "P0 Critical").is_displayed()
            screenshot(browser, "queue-filters-1366")
            assert_fits(browser, ("tier", "assignee_label", "requester_email", "age"))

    @pytest.mark.parametrize(
        ("path", "name", "columns"),
        [
            (
                "/admin/notifications/notification/",
                "outbox",
                OUTBOX_COLUMNS,
            ),
            (
                "/admin/escalation/slabreach/",
                "breaches",
                ("breached", "ticket_cell", "kind", "due", "tier", "priority"),
            ),
        ],
    )
    def test_the_outbox_and_the_breaches_fit_1366_px(self, live_server, tmp_path, busy_desk, path, name, columns):
        with chromium(tmp_path, DESK) as browser:
            sign_in(browser, live_server, busy_desk["manager"])
            browser.get(f"{live_server.url}{path}")
            # (Filing the tickets queued their acknowledgments too.)
            assert len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) >= 6
            screenshot(browser, f"{name}-1366")
            assert_fits(browser, columns)


class TestPhone:
    def test_the_queue_is_one_card_per_ticket_with_every_action_in_reach(self, live_server, tmp_path, busy_desk):
        with chromium(tmp_path, PHONE) as browser:
            sign_in(browser, live_server, busy_desk["agent"])
            browser.get(f"{live_server.url}/admin/tickets/ticket/")
            screenshot(browser, "queue-390")
            measured = browser.execute_script(MEASURE)
            assert measured["viewport"] <= PHONE[0], measured
            assert measured["pageScroll"] <= measured["viewport"], measured
            assert measured["boxScroll"] <= measured["boxClient"], measured
            viewport = measured["viewport"]

            def inside(element) -> bool:
                rect = browser.execute_script("return arguments[0].getBoundingClientRect();", element)
                return element.is_displayed() and rect["left"] >= 0 and rect["right"] <= viewport

            for selector in (
                "#searchbar",
                "#changelist-search input[type=submit]",
                "#queue-filters > summary",
                "#changelist .actions select[name=action]",
                "#changelist .actions button[name=index]",
            ):
                assert inside(browser.find_element(By.CSS_SELECTOR, selector)), selector
            for row in browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"):
                for cell in ("input.action-select", "th.field-reference a", "td.field-subject", "td.field-age"):
                    assert inside(row.find_element(By.CSS_SELECTOR, cell)), cell
            # A ticket is picked and acted on from the phone.
            first = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr input.action-select")
            first.click()
            assert first.is_selected()
