"""Merging with two agents in two browser sessions: one merges a duplicate while the other has it open and
replies. The reply is refused with the survivor named, never a 500, never lost: it is posted there."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import DESK, PHONE, chromium, screenshot
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets.models import Message, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(browser, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    browser.get(f"{live_server.url}/admin/login/")
    browser.add_cookie(
        {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}
    )


def page(live_server, ticket: Ticket, suffix: str = "change/") -> str:
    return f"{live_server.url}/admin/tickets/ticket/{ticket.pk}/{suffix}"


@pytest.mark.parametrize("size", [DESK, PHONE], ids=["1366", "390"])
def test_a_reply_on_a_ticket_merged_meanwhile_is_kept_and_posted_on_the_survivor(live_server, tmp_path, size):
    customer = make_user("carla@example.com", "customer")
    merger = make_user("tier1@sofacoverpro.com", "agent", tier=1, first_name="Mia")
    writer = make_user("tier1b@sofacoverpro.com", "agent", tier=1, first_name="Will")
    survivor = TicketFactory(requester=customer, subject="Cushion zip broke", created_at=T0)
    source = TicketFactory(requester=customer, subject="Zip broke again", created_at=T0)
    width = size[0]

    with chromium(tmp_path / "writer", size) as writing, chromium(tmp_path / "merger", DESK) as merging:
        sign_in(writing, live_server, writer)
        sign_in(merging, live_server, merger)

        # Will has the duplicate open and starts writing.
        writing.get(page(live_server, source))
        box = writing.find_element(By.CSS_SELECTOR, "form[action$='/reply/'] textarea[name=body]")
        box.send_keys("The replacement zip ships today.")

        # Meanwhile Mia merges it into the survivor, from its page's "Merge into…" link.
        merging.get(page(live_server, source))
        merging.find_element(By.ID, "console-merge-link").click()
        merging.find_element(By.ID, "id_target").send_keys(survivor.reference)
        screenshot(merging, "merge-form-1366")
        merging.find_element(By.CSS_SELECTOR, "#merge-form input[type=submit]").click()
        WebDriverWait(merging, 15).until(ec.url_to_be(page(live_server, survivor)))
        assert f"{source.reference} is merged into {survivor.reference}." in merging.page_source
        source.refresh_from_db()
        assert source.merged_into_id == survivor.pk

        # Will sends: refused, the survivor named, his words still there.
        send = writing.find_element(By.CSS_SELECTOR, "form[action$='/reply/'] [type=submit]")
        # (the form's own submit: on the emulated phone a click lands while the page still settles)
        writing.execute_script("arguments[0].form.requestSubmit(arguments[0]);", send)
        refused = WebDriverWait(writing, 15).until(ec.presence_of_element_located((By.ID, "reply-refused")))
        assert f"{source.reference} was merged into {survivor.reference}" in refused.text
        assert "Server Error" not in writing.page_source
        kept = writing.find_element(By.ID, "id_moved_body")
        assert kept.get_attribute("value") == "The replacement zip ships today."
        assert not Message.objects.filter(body="The replacement zip ships today.").exists()
        screenshot(writing, f"merge-reply-refused-{width}")
        overflow = writing.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        right = writing.execute_script("return arguments[0].getBoundingClientRect().right", kept)
        assert right <= writing.execute_script("return document.documentElement.clientWidth")

        # One click posts it on the survivor.
        writing.find_element(By.CSS_SELECTOR, "#reply-again-form input[type=submit]").click()
        WebDriverWait(writing, 15).until(ec.url_contains(f"/admin/tickets/ticket/{survivor.pk}/change/"))
        posted = Message.objects.get(body="The replacement zip ships today.")
        assert posted.ticket_id == survivor.pk
        assert posted.author == writer
        assert not posted.internal
