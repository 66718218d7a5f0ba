"""Email subscription to the status page: double opt-in through the outbox, one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client

from incidents import subscriptions
from incidents.models import Subscriber
from notifications import relay, status_mail
from notifications.models import Notification
from support import usecases

from .status_helpers import NOW

pytestmark = pytest.mark.django_db
ADDRESS = "carla@example.com"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def confirmations(address: str = ADDRESS) -> list[Notification]:
    return list(Notification.objects.filter(kind=Notification.Kind.STATUS_CONFIRM, recipient=address).order_by("id"))


def subscribe(client: Client, email: str = ADDRESS):
    return client.post("/status/subscribe/", {"email": email})


def link_in(row: Notification, what: str) -> str:
    found = re.search(rf"http\S+/status/{what}/[0-9a-f-]+/", row.body)
    assert found, row.body
    return found.group(0)


class TestSubscribing:
    def test_a_new_address_is_pending_and_mailed_its_confirmation_link(self, client, clock, settings):
        settings.DESK_BASE_URL = "https://help.example.com"
        response = subscribe(client, " Carla@Example.com ")

        assert response.status_code == 302
        assert response["Location"] == "/status/subscribe/done/"
        subscriber = Subscriber.objects.get()
        assert subscriber.email == ADDRESS
        assert (subscriber.confirmed_at, subscriber.unsubscribed_at) == (None, None)
        [row] = confirmations()
        assert row.channel == Notification.Channel.EMAIL
        assert link_in(row, "confirm") == f"https://help.example.com/status/confirm/{subscriber.token}/"
        assert row.dedupe_key.startswith(f"status-confirm:{subscriber.pk}:{subscriber.token.hex}:")
        assert f"/status/confirm/{subscriber.token}/" in row.body_html
        assert "Check your inbox" in client.get(response["Location"]).content.decode()

    def test_the_confirmation_goes_out_as_mail(self, client, clock):
        subscribe(client)
        relay.outbox_flush(now=NOW)
        [message] = mail.outbox
        assert message.to == [ADDRESS]
        assert message.subject == "Confirm your SofaCover Pro status updates"
        assert f"/status/confirm/{Subscriber.objects.get().token}/" in message.body
        assert message.extra_headers["Auto-Submitted"] == "auto-generated"

    def test_the_answer_is_the_same_whoever_asks(self, client, clock):
        new = subscribe(client, "new@example.com")
        Subscriber.objects.create(email="pending@example.com", created_at=NOW)
        Subscriber.objects.create(email="member@example.com", created_at=NOW, confirmed_at=NOW)
        Subscriber.objects.create(email="gone@example.com", created_at=NOW, confirmed_at=NOW, unsubscribed_at=NOW)
        answers = [subscribe(client, f"{who}@example.com") for who in ("pending", "member", "gone")]
        for answer in answers:
            assert (answer.status_code, answer["Location"]) == (new.status_code, new["Location"])
        assert confirmations("member@example.com") == []  # already confirmed: nothing to send
        assert len(confirmations("pending@example.com")) == len(confirmations("gone@example.com")) == 1

    def test_asking_again_mails_the_same_link_once_an_hour_at_most(self, client, clock):
        subscribe(client)
        subscribe(client)
        assert len(confirmations()) == 1
        clock.shift(timedelta(hours=1))
        subscribe(client)
        first, second = confirmations()
        assert link_in(first, "confirm") == link_in(second, "confirm")

    def test_a_bad_address_is_a_400_on_the_page_naming_the_field(self, client, clock):
        response = subscribe(client, "carla at example")
        assert response.status_code == 400
        html = response.content.decode()
        assert "Enter a valid email address." in html
        assert "field-invalid" in html
        assert "Service status" in html
        assert "Components" in html
        assert not Subscriber.objects.exists()

    def test_is_rate_limited_per_client_and_address(self, client, clock, settings):
        settings.RATELIMITS = {**settings.RATELIMITS, "status_subscribe_ip_account": "2/h"}
        assert [subscribe(client).status_code for _ in range(3)] == [302, 302, 429]
        assert subscribe(client, "other@example.com").status_code == 302
        assert client.get("/status/subscribe/").status_code == 405


class TestConfirming:
    def test_opening_the_link_changes_nothing_the_button_confirms(self, client, clock):
        subscribe(client)
        subscriber = Subscriber.objects.get()
        url = f"/status/confirm/{subscriber.token}/"

        page = client.get(url)
        assert page.status_code == 200
        assert "Yes, send me updates" in page.content.decode()
        assert "ca•••@example.com" in page.content.decode()
        subscriber.refresh_from_db()
        assert subscriber.confirmed_at is None

        done = client.post(url)
        assert done.status_code == 200
        assert "You are subscribed" in done.content.decode()
        subscriber.refresh_from_db()
        assert subscriber.confirmed_at == NOW
        assert subscriber.active
        assert "You are subscribed" in client.get(url).content.decode()
        assert client.post(url).status_code == 200  # again: harmless

    @pytest.mark.parametrize("token", ["00000000-0000-4000-8000-000000000000"])
    def test_an_unknown_link_is_a_404(self, client, token):
        assert client.get(f"/status/confirm/{token}/").status_code == 404
        assert client.post(f"/status/confirm/{token}/").status_code == 404
        assert client.get("/status/confirm/not-a-token/").status_code == 404


class TestUnsubscribing:
    @pytest.fixture
    def member(self):
        return Subscriber.objects.create(email=ADDRESS, created_at=NOW, confirmed_at=NOW)

    def test_the_link_shows_a_button_and_its_post_unsubscribes(self, member, clock):
        client = Client(enforce_csrf_checks=True)
        url = f"/status/unsubscribe/{member.token}/"
        page = client.get(url)
        assert page.status_code == 200
        assert "Unsubscribe" in page.content.decode()
        member.refresh_from_db()
        assert member.active

        done = client.post(url)  # the page's form: no CSRF token needed, the link is the key
        assert done.status_code == 200
        assert "You are unsubscribed" in done.content.decode()
        member.refresh_from_db()
        assert member.unsubscribed_at == NOW
        assert not member.active
        assert "You are unsubscribed" in client.get(url).content.decode()

    def test_a_mail_clients_one_click_post_unsubscribes(self, member, clock):
        """RFC 8058: POST to the List-Unsubscribe URL with the body List-Unsubscribe=One-Click."""
        client = Client(enforce_csrf_checks=True)
        response = client.post(
            status_mail.unsubscribe_url(member).removeprefix("http://127.0.0.1:8000"),
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
        member.refresh_from_db()
        assert member.unsubscribed_at == NOW
        headers = status_mail.list_unsubscribe_headers(member)
        assert headers == {
            "List-Unsubscribe": f"<{status_mail.unsubscribe_url(member)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def test_after_unsubscribing_the_confirmation_link_is_dead_and_subscribing_starts_over(self, member, client, clock):
        old_token = member.token
        client.post(f"/status/unsubscribe/{old_token}/")
        assert client.post(f"/status/confirm/{old_token}/").status_code == 404
        assert "You have unsubscribed" in client.get(f"/status/confirm/{old_token}/").content.decode()

        subscribe(client)

        member.refresh_from_db()
        assert member.token != old_token
        assert (member.confirmed_at, member.unsubscribed_at) == (None, None)
        [row] = confirmations()
        assert link_in(row, "confirm").endswith(f"/status/confirm/{member.token}/")
        assert client.get(f"/status/unsubscribe/{old_token}/").status_code == 404  # the old links are gone

    def test_an_unknown_link_is_a_404(self, client):
        assert client.post("/status/unsubscribe/00000000-0000-4000-8000-000000000000/").status_code == 404


class TestTheUseCases:
    def test_subscribe_refuses_what_is_not_an_address_and_writes_nothing(self):
        with pytest.raises(subscriptions.DomainError) as refused:
            usecases.status_subscribe(email="nobody", now=NOW)
        assert refused.value.field == "email"
        assert not Subscriber.objects.exists()
        assert confirmations("nobody") == []

    def test_confirm_and_unsubscribe_take_the_token(self):
        subscriber = usecases.status_subscribe(email=ADDRESS, now=NOW)
        assert usecases.status_confirm(token=str(subscriber.token), now=NOW).confirmed_at == NOW
        later = NOW + timedelta(days=3)
        assert usecases.status_unsubscribe(token=str(subscriber.token), now=later).unsubscribed_at == later
        with pytest.raises(subscriptions.SubscriptionLinkInvalid):
            usecases.status_confirm(token=str(subscriber.token), now=later)
        with pytest.raises(subscriptions.SubscriptionLinkInvalid):
            usecases.status_unsubscribe(token="garbage", now=later)
