"""Two headless Chromium sessions, a visitor on the help centre and an agent in the console, chatting
through a real ASGI server (uvicorn, a subprocess) on a real Redis channel layer.

Needs REDIS_URL and PostgreSQL (the server reads the test's database); CI sets both.
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from chat import services
from chat.models import ChatSession
from escalation.models import BusinessCalendar, SlaPolicy
from support import usecases
from tests.browser import DESK, PHONE, chromium, emulate, screenshot  # first, before selenium's own imports
from tests.tickets.factories import make_user
from tickets.models import Message, Ticket

from .conftest import cookie_for
from .servers import ON_POSTGRESQL, asgi_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: the channel layer is Redis"),
    pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: the server shares the test database"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def open_with_an_available_agent() -> tuple[User, str]:
    """The widget open now, whatever the clock says (the P2/P3 calendar made 24x7 for this test's database),
    with Tina available: Tina and her session cookie's value."""
    SlaPolicy.objects.filter(priority__in=["P2", "P3"]).update(calendar=BusinessCalendar.objects.get(name="24x7"))
    agent = make_user("tina@sofacoverpro.com", "agent", tier=1, first_name="Tina")
    services.presence_set(agent=agent, available=True, now=timezone.now())
    return agent, cookie_for(agent).split("=", 1)[1]


def visitor_starts_a_chat(visitor, wait: WebDriverWait, base: str) -> None:
    """Zoe, anonymous on the help centre, opens the widget and starts a chat; back when it is live."""
    visitor.get(f"{base}/kb/")
    wait.until(lambda d: d.find_element(By.ID, "chat-widget").get_attribute("data-state") == "open")
    visitor.find_element(By.CSS_SELECTOR, ".chat-toggle").click()
    form = visitor.find_element(By.CSS_SELECTOR, ".chat-start")
    form.find_element(By.NAME, "name").send_keys("Zoe")
    form.find_element(By.NAME, "email").send_keys("zoe@example.com")
    form.find_element(By.NAME, "body").send_keys("My cushion cover is torn")
    form.find_element(By.CSS_SELECTOR, "button.chat-open-label").click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".chat-live")))


def test_a_visitor_and_an_agent_chat_in_two_browsers(tmp_path):
    agent, agent_cookie = open_with_an_available_agent()

    with (
        asgi_server("uvicorn", tmp_path) as port,
        chromium(tmp_path / "visitor", PHONE) as visitor,
        chromium(tmp_path / "agent", DESK) as desk,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_v, wait_d = WebDriverWait(visitor, 20), WebDriverWait(desk, 20)

        visitor_starts_a_chat(visitor, wait_v, base)
        wait_v.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-log"), "My cushion cover is torn"))
        chat = ChatSession.objects.get()

        desk.get(f"{base}/admin/")  # a page of the site first, so the session cookie can be set on it
        desk.add_cookie({"name": "sessionid", "value": agent_cookie, "path": "/"})
        desk.get(f"{base}/console/chat/")
        wait_d.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-queue"), "My cushion cover is torn"))
        desk.find_element(By.CSS_SELECTOR, ".chat-queue button[type=submit]").click()
        wait_d.until(ec.url_to_be(f"{base}/console/chat/{chat.pk}/"))
        wait_d.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-log"), "My cushion cover is torn"))
        desk.find_element(By.CSS_SELECTOR, ".chat-say textarea").send_keys("Sorry! <b>We'll send a new one</b>")
        desk.find_element(By.CSS_SELECTOR, ".chat-say button[type=submit]").click()

        wait_v.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-log"), "<b>We'll send a new one</b>"))
        assert visitor.find_elements(By.CSS_SELECTOR, ".chat-log b") == []  # shown as text, never as HTML
        wait_v.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-state"), "chatting"))
        visitor.find_element(By.CSS_SELECTOR, ".chat-say textarea").send_keys("Thank you!")
        visitor.find_element(By.CSS_SELECTOR, ".chat-say button[type=submit]").click()
        wait_d.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-log"), "Thank you!"))
        # the agent's line was read by the visitor: the desk sees the mark
        wait_d.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".chat-log li.mine .seen")))

        # A reply made on the ticket page does not come through the chat; the next line names it as the one
        # before, and both browsers fetch it and show it in its place.
        usecases.reply(
            ticket=Ticket.objects.get(pk=chat.ticket_id),
            author=agent,
            body="We have also mailed you a return label",
            now=timezone.now(),
        )
        desk.find_element(By.CSS_SELECTOR, ".chat-say textarea").send_keys("Anything else?")
        desk.find_element(By.CSS_SELECTOR, ".chat-say button[type=submit]").click()
        for browser, wait in ((visitor, wait_v), (desk, wait_d)):
            wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-log"), "Anything else?"))
            log = browser.find_element(By.CSS_SELECTOR, ".chat-log").text
            assert log.index("Thank you!") < log.index("return label") < log.index("Anything else?"), log
            assert log.count("Anything else?") == 1, log
        screenshot(visitor, "chat-visitor")
        screenshot(desk, "chat-agent")

    ticket = Ticket.objects.get(pk=chat.ticket_id)
    assert ticket.channel == Ticket.Channel.CHAT
    assert ticket.requester.email == "zoe@example.com"
    assert ticket.first_responded_at is not None
    assert list(Message.objects.filter(ticket=ticket).order_by("pk").values_list("body", flat=True)) == [
        "Sorry! <b>We'll send a new one</b>",
        "Thank you!",
        "We have also mailed you a return label",
        "Anything else?",
    ]


def test_the_agents_queue_page_shows_a_new_chat_live_and_drops_it_once_accepted(tmp_path):
    """The queue page never reloads: a customer's chat appears on it over its socket (announced to screen
    readers, its wait ticking), and leaves the waiting list when the agent accepts it in another tab."""
    agent, agent_cookie = open_with_an_available_agent()

    with (
        asgi_server("uvicorn", tmp_path) as port,
        chromium(tmp_path / "visitor", PHONE) as visitor,
        chromium(tmp_path / "agent", DESK) as desk,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_v, wait_d = WebDriverWait(visitor, 20), WebDriverWait(desk, 20)

        desk.get(f"{base}/admin/")
        desk.add_cookie({"name": "sessionid", "value": agent_cookie, "path": "/"})
        desk.get(f"{base}/console/chat/")
        page = desk.find_element(By.CSS_SELECTOR, ".chat-queue-page")
        wait_d.until(lambda d: page.get_attribute("data-live") == "open")
        assert page.get_attribute("data-waiting") == "0"
        assert desk.find_element(By.CSS_SELECTOR, ".chat-nobody").is_displayed()
        desk.execute_script("window.sameQueuePage = true")  # gone if the page reloads

        visitor_starts_a_chat(visitor, wait_v, base)
        chat = ChatSession.objects.get()

        row = f'.chat-queue tr[data-chat="{chat.pk}"]'
        wait_d.until(ec.visibility_of_element_located((By.CSS_SELECTOR, row)))
        assert desk.execute_script("return window.sameQueuePage") is True
        assert desk.find_element(By.CSS_SELECTOR, f"{row} .chat-customer").text == "Zoe"
        assert desk.find_element(By.CSS_SELECTOR, f"{row} .chat-first").text == "My cushion cover is torn"
        assert not desk.find_element(By.CSS_SELECTOR, ".chat-nobody").is_displayed()
        wait_d.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-announce"), "New chat waiting: Zoe"))
        wait = desk.find_element(By.CSS_SELECTOR, f"{row} .chat-wait")
        wait_d.until(lambda d: wait.text not in {"", "0:00"})  # ticking in the page, not reloaded
        action = desk.find_element(By.CSS_SELECTOR, f"{row} form").get_attribute("action") or ""
        assert action.endswith(f"/console/chat/{chat.pk}/accept/")
        screenshot(desk, "chat-queue-live")
        emulate(desk, PHONE)
        screenshot(desk, "chat-queue-live-phone")
        desk.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        queue_tab = desk.current_window_handle
        desk.switch_to.new_window("tab")
        desk.get(f"{base}/console/chat/{chat.pk}/")
        wait_d.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-log"), "My cushion cover is torn"))
        desk.find_element(By.CSS_SELECTOR, ".chat-accept").click()
        wait_v.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".chat-state"), "chatting"))
        desk.switch_to.window(queue_tab)

        wait_d.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, row)))
        wait_d.until(ec.visibility_of_element_located((By.CSS_SELECTOR, f'.chat-mine li[data-chat="{chat.pk}"]')))
        assert desk.execute_script("return window.sameQueuePage") is True
        assert desk.find_element(By.CSS_SELECTOR, ".chat-nobody").is_displayed()
        assert desk.find_elements(By.CSS_SELECTOR, ".chat-queue tbody tr") == []
        screenshot(desk, "chat-queue-accepted")

    assert ChatSession.objects.get(pk=chat.pk).agent_id == agent.pk
