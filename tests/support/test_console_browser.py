"""The console's ticket page, agent home and keyboard shortcuts in headless Chromium, at a desk's
1366 px and a phone's 390 px. Screenshots go to var/screenshots/ for review."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from knowledge.models import Article
from tests.browser import DESK, PHONE, chromium, screenshot
from tests.knowledge.factories import ArticleFactory, RunbookFactory
from tests.test_console_ticket_page import ticket_with_thread
from tests.tickets.factories import TicketFactory, make_user
from tickets import presence
from tickets.models import Ticket

# serialized_rollback: the flush after a transactional test would also wipe the roles, policies and
# components seeded by migrations, which the tests that run after this one rely on.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SIZES = pytest.mark.parametrize("size", [DESK, PHONE], ids=["1366", "390"])


def sign_in(driver, live_server, user) -> None:
    """Put a session for ``user`` in the browser (the login form has its own tests)."""
    client = Client()
    client.force_login(user)
    driver.get(f"{live_server.url}/admin/login/")
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": session})


def busy_ticket(customer, agent, manager) -> Ticket:
    ArticleFactory(title="Why was my card declined?", slug="card-declined", category=Article.Category.PAYMENT)
    runbook = RunbookFactory(
        title="Payment declines",
        slug="payment-declines-runbook",
        category=Article.Category.PAYMENT,
        body="## Steps\n\n- [ ] Check the gateway\n- [ ] Look up the decline code\n- [ ] Reply to the customer\n",
    )
    return ticket_with_thread(customer=customer, agent=agent, manager=manager, runbook=runbook, exchanges=6)


def ticket_url(live_server, ticket: Ticket) -> str:
    return f"{live_server.url}/admin/tickets/ticket/{ticket.pk}/change/"


def rect(driver, element) -> dict:
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height};",
        element,
    )


def viewport(driver) -> dict:
    return driver.execute_script(
        "return {width: window.innerWidth, height: window.innerHeight,"
        " scrollWidth: document.documentElement.scrollWidth};"
    )


class TestReplyBox:
    @SIZES
    def test_the_message_label_focuses_the_reply_box_not_the_template_reply(
        self, live_server, tmp_path, size, customer, agent, manager
    ):
        ticket = busy_ticket(customer, agent, manager)
        with chromium(tmp_path, size) as driver:
            sign_in(driver, live_server, manager)
            driver.get(ticket_url(live_server, ticket))
            duplicates = driver.execute_script(
                "const seen = {}, twice = [];"
                "document.querySelectorAll('[id]').forEach(e => { if (seen[e.id]) twice.push(e.id); seen[e.id] = 1; });"
                "return twice;"
            )
            assert duplicates == []
            # The knowledge base's template reply is on the page too, with its own message box.
            assert driver.find_elements(By.CSS_SELECTOR, ".kb-reply-form textarea")

            label = driver.find_element(
                By.XPATH, "//form[@id='console-reply-form']//label[normalize-space()='Message']"
            )
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", label)
            label.click()

            focused = driver.switch_to.active_element
            reply_box = driver.find_element(By.CSS_SELECTOR, "#console-reply-form textarea[name=body]")
            assert focused == reply_box
            screenshot(driver, f"console-reply-label-{size[0]}")

    @SIZES
    def test_a_public_reply_and_an_internal_note_are_two_actions_that_look_apart(
        self, live_server, tmp_path, size, customer, agent, manager
    ):
        ticket = busy_ticket(customer, agent, manager)
        with chromium(tmp_path, size) as driver:
            sign_in(driver, live_server, manager)
            driver.get(ticket_url(live_server, ticket))
            form = driver.find_element(By.ID, "console-reply-form")
            box = form.find_element(By.CSS_SELECTOR, "textarea[name=body]")
            send = form.find_element(By.CSS_SELECTOR, ".console-send-public")
            note = form.find_element(By.CSS_SELECTOR, ".console-send-note")
            assert send.is_displayed()
            assert not note.is_displayed()
            assert send.text == "Send reply to customer"
            public_bg = box.value_of_css_property("background-color")
            public_border = form.value_of_css_property("border-top-color")

            driver.find_element(By.CSS_SELECTOR, "label[for=id_reply_mode_note]").click()

            assert note.is_displayed()
            assert not send.is_displayed()
            assert note.text == "Add internal note"
            assert box.value_of_css_property("background-color") != public_bg  # the note box is tinted
            assert form.value_of_css_property("border-top-color") != public_border
            assert send.value_of_css_property("background-color") != note.value_of_css_property("background-color")
            screenshot(driver, f"console-note-mode-{size[0]}")

            box.send_keys("Gateway says the card issuer declined: code 05.")
            note.click()
            WebDriverWait(driver, 15).until(ec.url_contains("#thread"))
            latest = ticket.messages.order_by("-id").first()
            assert latest is not None
            assert (latest.body, latest.internal) == ("Gateway says the card issuer declined: code 05.", True)


class TestOneScreen:
    def test_at_a_desk_the_reply_box_the_newest_message_and_the_sla_clocks_fit_one_screen(
        self, live_server, tmp_path, customer, agent, manager
    ):
        ticket = busy_ticket(customer, agent, manager)
        with chromium(tmp_path, DESK) as driver:
            sign_in(driver, live_server, manager)
            driver.get(ticket_url(live_server, ticket))
            screenshot(driver, "console-ticket-page-1366")
            view = viewport(driver)

            assert view["scrollWidth"] <= view["width"]  # no horizontal scroll
            newest = driver.find_elements(By.CSS_SELECTOR, "#thread article.console-message")[-1]
            assert "Message 5" in newest.text or "Note 5" in newest.text
            for name, element in (
                ("reply box", driver.find_element(By.CSS_SELECTOR, "#console-reply-form textarea[name=body]")),
                ("send button", driver.find_element(By.CSS_SELECTOR, "#console-reply-form .console-send-public")),
                ("newest message", newest),
                ("SLA heading", driver.find_element(By.ID, "console-sla-heading")),
                ("SLA clocks", driver.find_element(By.CSS_SELECTOR, "#sla .console-sla-clocks")),
                ("status field", driver.find_element(By.ID, "id_status")),
            ):
                box = rect(driver, element)
                assert box["height"] > 0, name
                assert box["top"] >= 0, (name, box, view)
                assert box["bottom"] <= view["height"], (name, box, view)
                assert box["left"] >= 0, (name, box, view)
                assert box["right"] <= view["width"], (name, box, view)
            # The runbooks are in the column beside the conversation, under the SLA section.
            conversation = rect(driver, driver.find_element(By.ID, "thread"))
            runbooks = rect(driver, driver.find_element(By.ID, "kb-runbooks"))
            sla = rect(driver, driver.find_element(By.ID, "sla"))
            assert runbooks["left"] >= conversation["right"]
            assert runbooks["top"] > sla["top"]
            # The newest message is in view inside the conversation's own scroll box too.
            scroller = rect(driver, driver.find_element(By.CSS_SELECTOR, ".console-thread-scroll"))
            message = rect(driver, newest)
            assert scroller["top"] <= message["top"]
            assert message["bottom"] <= scroller["bottom"] + 1

    def test_on_a_phone_it_is_one_column_conversation_first_without_horizontal_scroll(
        self, live_server, tmp_path, customer, agent, manager
    ):
        ticket = busy_ticket(customer, agent, manager)
        with chromium(tmp_path, PHONE) as driver:
            sign_in(driver, live_server, manager)
            driver.get(ticket_url(live_server, ticket))
            screenshot(driver, "console-ticket-page-390")
            view = viewport(driver)

            assert view["scrollWidth"] <= view["width"]
            thread = rect(driver, driver.find_element(By.ID, "thread"))
            reply = rect(driver, driver.find_element(By.ID, "console-reply-form"))
            fields = rect(driver, driver.find_element(By.ID, "ticket_form"))
            sla = rect(driver, driver.find_element(By.ID, "sla"))
            assert thread["top"] < reply["top"] < fields["top"] < sla["top"]
            spilled = driver.execute_script(
                "const form = document.getElementById('console-reply-form').getBoundingClientRect();"
                "return [...document.querySelectorAll('#console-reply-form *')]"
                ".filter(e => e.getClientRects().length && e.getBoundingClientRect().right > form.right + 0.5)"
                ".map(e => e.tagName + '.' + e.className);"
            )
            assert spilled == []  # nothing of the reply box sticks out of it
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
            screenshot(driver, "console-ticket-page-390-bottom")
            assert viewport(driver)["scrollWidth"] <= view["width"]


class TestAgentHome:
    @SIZES
    def test_an_agent_lands_on_their_counts_and_opens_a_ticket_from_them(
        self, live_server, tmp_path, size, customer, agent
    ):
        mine = TicketFactory(requester=customer, subject="Zip broke on my cover")
        Ticket.objects.filter(pk=mine.pk).update(assignee=agent)
        TicketFactory(requester=customer, subject="Wrong colour delivered")
        with chromium(tmp_path, size) as driver:
            sign_in(driver, live_server, agent)
            driver.get(f"{live_server.url}/admin/")
            screenshot(driver, f"console-home-{size[0]}")

            view = viewport(driver)
            assert view["scrollWidth"] <= view["width"]
            assert not driver.find_elements(By.CSS_SELECTOR, ".app-tickets.module")  # not the app list
            cards = driver.find_elements(By.CSS_SELECTOR, ".console-home-card")
            assert [card.get_attribute("id") for card in cards] == [
                "home-mine",
                "home-due_soon",
                "home-breached",
                "home-unassigned",
                "home-notifications",
            ]
            first = rect(driver, cards[0])
            assert first["top"] < view["height"]  # the home's first count is on the first screen
            assert driver.find_element(By.CSS_SELECTOR, "#home-mine .console-home-count").text == "1"
            assert driver.find_element(By.CSS_SELECTOR, "#home-unassigned .console-home-count").text == "1"

            driver.find_element(By.LINK_TEXT, mine.reference).click()
            WebDriverWait(driver, 15).until(ec.url_contains(f"/admin/tickets/ticket/{mine.pk}/change/"))


def active_id(driver) -> str:
    return driver.execute_script(
        "return document.activeElement && (document.activeElement.id || document.activeElement.tagName);"
    )


def press(driver, keys: str) -> None:
    ActionChains(driver).send_keys(keys).perform()


class TestKeyboardShortcuts:
    @SIZES
    def test_j_and_k_move_through_the_queue_and_enter_opens_the_ticket(
        self, live_server, tmp_path, size, customer, agent
    ):
        tickets = [TicketFactory(requester=customer, subject=f"Cover problem {n}") for n in range(3)]
        with chromium(tmp_path, size) as driver:
            sign_in(driver, live_server, agent)
            driver.get(f"{live_server.url}/admin/tickets/ticket/")
            driver.find_element(By.TAG_NAME, "body").click()
            rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
            assert len(rows) == 3

            press(driver, "j")
            press(driver, "j")
            press(driver, "k")
            press(driver, "j")
            focused = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr.console-row-focus")
            assert len(focused) == 1
            assert focused[0] == rows[1]
            screenshot(driver, f"console-queue-row-focus-{size[0]}")
            reference = focused[0].find_element(By.CSS_SELECTOR, "th a, td.field-reference a").text
            opened = next(ticket for ticket in tickets if ticket.reference == reference)

            # Typing j in the search box types a j; it does not move the row focus.
            search = driver.find_element(By.ID, "searchbar")
            search.send_keys("jj")
            assert search.get_attribute("value") == "jj"
            assert driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr.console-row-focus") == [rows[1]]

            driver.find_element(By.TAG_NAME, "body").click()
            press(driver, Keys.ENTER)
            WebDriverWait(driver, 15).until(ec.url_contains(f"/admin/tickets/ticket/{opened.pk}/change/"))

    @SIZES
    def test_r_n_e_and_the_question_mark_on_the_ticket_page(self, live_server, tmp_path, size, customer, agent):
        ticket = TicketFactory(requester=customer, subject="Cushion zip broke")
        with chromium(tmp_path, size) as driver:
            sign_in(driver, live_server, agent)
            driver.get(ticket_url(live_server, ticket))
            overlay = driver.find_element(By.ID, "console-shortcuts")
            assert not overlay.is_displayed()

            press(driver, "?")
            assert overlay.is_displayed()
            assert "Escalate" in overlay.text
            assert "Next / previous ticket in the queue" in overlay.text
            screenshot(driver, f"console-shortcuts-{size[0]}")
            press(driver, Keys.ESCAPE)
            assert not overlay.is_displayed()

            press(driver, "n")
            assert active_id(driver) == "id_reply_body"
            assert driver.find_element(By.ID, "id_reply_mode_note").is_selected()
            assert driver.find_element(By.CSS_SELECTOR, ".console-send-note").is_displayed()

            # While typing, letters are text: "e" and "r" go into the note, nothing else happens.
            press(driver, "need the receipt")
            assert driver.find_element(By.ID, "id_reply_body").get_attribute("value") == "need the receipt"
            assert active_id(driver) == "id_reply_body"
            assert driver.find_element(By.ID, "id_reply_mode_note").is_selected()
            press(driver, "?")
            assert not overlay.is_displayed()

            driver.execute_script("document.activeElement.blur()")
            press(driver, "r")
            assert active_id(driver) == "id_reply_body"
            assert driver.find_element(By.ID, "id_reply_mode_public").is_selected()
            assert driver.find_element(By.CSS_SELECTOR, ".console-send-public").is_displayed()

            driver.execute_script("document.activeElement.blur()")
            press(driver, "e")
            escalate_form = driver.find_element(By.ID, "console-escalate-form")
            focused = driver.switch_to.active_element
            assert escalate_form.find_elements(By.CSS_SELECTOR, "select, textarea")[0] == focused

            driver.find_element(By.CSS_SELECTOR, "[data-console-shortcuts]").click()
            assert overlay.is_displayed()
            driver.find_element(By.CSS_SELECTOR, "[data-console-shortcuts-close]").click()
            assert not overlay.is_displayed()


class TestCollisionWarning:
    @SIZES
    def test_agent_a_sees_b_viewing_then_replying_and_is_warned_before_posting_after_b(
        self, live_server, tmp_path, size, customer, agent, monkeypatch
    ):
        monkeypatch.setattr(presence, "POLL_SECONDS", 1)  # the page polls as often as the server says
        omar = make_user("omar@sofacoverpro.com", "agent", tier=1, first_name="Omar")
        ticket = TicketFactory(requester=customer, subject="Zip broke after two days")
        with chromium(tmp_path / "a", size) as a, chromium(tmp_path / "b", size) as b:
            sign_in(a, live_server, omar)
            sign_in(b, live_server, agent)
            a.get(ticket_url(live_server, ticket))
            b.get(ticket_url(live_server, ticket))
            seen_by_a = a.find_element(By.ID, "console-presence")

            WebDriverWait(a, 15).until(lambda _: "Tina is viewing" in seen_by_a.text)
            WebDriverWait(b, 15).until(lambda _: "Omar is viewing" in b.find_element(By.ID, "console-presence").text)

            b.find_element(By.ID, "id_reply_body").send_keys("Sending a new zip today.")
            WebDriverWait(a, 15).until(lambda _: "Tina is replying" in seen_by_a.text)
            assert "Tina is viewing" not in seen_by_a.text
            screenshot(a, f"console-collision-presence-{size[0]}")

            a.find_element(By.ID, "id_reply_body").send_keys("We will refund the cover.")
            b.find_element(By.CSS_SELECTOR, "#console-reply-form .console-send-public").click()
            WebDriverWait(b, 15).until(ec.url_contains("#thread"))

            a.find_element(By.CSS_SELECTOR, "#console-reply-form .console-send-public").click()
            warning = a.find_element(By.ID, "console-collision")
            WebDriverWait(a, 15).until(lambda _: warning.is_displayed())
            assert "Sending a new zip today." in warning.text
            assert not ticket.messages.filter(body="We will refund the cover.").exists()
            screenshot(a, f"console-collision-warning-{size[0]}")

            warning.find_element(By.CSS_SELECTOR, ".console-collision-confirm").click()
            WebDriverWait(a, 15).until(ec.url_contains("#thread"))
            bodies = list(ticket.messages.order_by("id").values_list("body", "author__first_name"))
            assert bodies == [("Sending a new zip today.", "Tina"), ("We will refund the cover.", "Omar")]
