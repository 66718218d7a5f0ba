"""The collision warning's endpoint (who else has the ticket open) and the reply that waits for a
confirmation when someone wrote since the page was loaded."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import cache, caches
from django.test import Client
from django.utils import timezone

from sofacover.cache import cache_config
from support import usecases
from tests.tickets.factories import TicketFactory, make_user
from tickets import presence
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def presence_url(ticket: Ticket) -> str:
    return f"/admin/tickets/ticket/{ticket.pk}/presence/"


def reply_url(ticket: Ticket) -> str:
    return f"/admin/tickets/ticket/{ticket.pk}/reply/"


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def omar(db):
    return make_user("omar@sofacoverpro.com", "agent", tier=1, first_name="Omar")


class TestPresenceEndpoint:
    def test_agents_see_each_other_viewing_then_replying_then_gone(self, agent, omar, customer):
        ticket = TicketFactory(requester=customer)
        tina, omar_client = as_user(agent), as_user(omar)

        first = tina.post(presence_url(ticket), {"state": "viewing"})
        assert first.status_code == 200
        assert first.json()["others"] == []  # never yourself

        assert omar_client.post(presence_url(ticket), {"state": "viewing"}).json()["others"] == [
            {"name": "Tina", "state": "viewing"}
        ]
        tina.post(presence_url(ticket), {"state": "replying"})
        assert omar_client.post(presence_url(ticket), {"state": "viewing"}).json()["others"] == [
            {"name": "Tina", "state": "replying"}
        ]
        assert tina.post(presence_url(ticket)).json()["others"] == [{"name": "Omar", "state": "viewing"}]
        tina.post(presence_url(ticket), {"state": "gone"})
        assert omar_client.post(presence_url(ticket)).json()["others"] == []

    def test_a_mark_expires_when_the_page_stops_polling(self, agent, omar, customer):
        ticket = TicketFactory(requester=customer)
        now = timezone.now().timestamp()
        presence.presence_mark(ticket_id=ticket.pk, user_id=agent.pk, name="Tina", state="viewing", now=now)

        soon = presence.presence_mark(ticket_id=ticket.pk, user_id=omar.pk, name="Omar", state="viewing", now=now + 5)
        later = presence.presence_mark(
            ticket_id=ticket.pk,
            user_id=omar.pk,
            name="Omar",
            state="viewing",
            now=now + presence.PRESENCE_SECONDS + 1,
        )

        assert soon == [{"name": "Tina", "state": "viewing"}]
        assert later == []

    def test_presence_is_per_ticket(self, agent, omar, customer):
        one, two = TicketFactory(requester=customer), TicketFactory(requester=customer)
        as_user(agent).post(presence_url(one), {"state": "replying"})

        assert as_user(omar).post(presence_url(two)).json()["others"] == []
        assert as_user(omar).post(presence_url(one)).json()["others"] == [{"name": "Tina", "state": "replying"}]

    def test_lists_what_others_wrote_after_the_message_the_page_shows(self, agent, omar, customer):
        ticket = TicketFactory(requester=customer)
        seen = usecases.reply(ticket=ticket, author=customer, body="Still broken", now=timezone.now())
        usecases.reply(ticket=ticket, author=agent, body="Mine, not news to me", now=timezone.now())
        usecases.reply(ticket=ticket, author=omar, body="Sent a new zip", now=timezone.now())

        newer = as_user(agent).post(presence_url(ticket), {"seen": seen.pk}).json()["newer"]

        assert [message["body"] for message in newer] == ["Sent a new zip"]
        assert newer[0]["author"] == "Omar"

    @pytest.mark.parametrize("who", ["anonymous", "customer", "requester"])
    def test_anyone_but_an_agent_gets_a_404(self, who, agent, customer, other_customer):
        ticket = TicketFactory(requester=customer)
        as_user(agent).post(presence_url(ticket), {"state": "replying"})
        client = {
            "anonymous": Client(),
            "customer": as_user(other_customer),
            "requester": as_user(customer),
        }[who]

        response = client.post(presence_url(ticket), {"state": "viewing"})

        assert response.status_code == 404
        assert b"Tina" not in response.content

    def test_a_ticket_the_agent_cannot_work_is_a_404(self, agent, customer):
        above = TicketFactory(requester=customer)
        Ticket.objects.filter(pk=above.pk).update(tier=3)
        client = as_user(agent)

        assert client.post(presence_url(above)).status_code == 404
        assert client.post("/admin/tickets/ticket/999999/presence/").status_code == 404
        assert client.post("/admin/tickets/ticket/nope/presence/").status_code == 404

    def test_refuses_other_methods_and_unknown_states(self, agent, customer):
        ticket = TicketFactory(requester=customer)
        client = as_user(agent)

        assert client.get(presence_url(ticket)).status_code == 405
        bad = client.post(presence_url(ticket), {"state": "dancing"})
        assert bad.status_code == 400
        assert "state" in bad.json()
        assert client.post(presence_url(ticket), {"seen": "x"}).status_code == 400


@pytest.fixture(params=["locmem", "redis"])
def shared_cache(request, settings):
    """The cache every process shares: the per-process one of `make run`, or Redis (REDIS_URL) as in CI."""
    if request.param == "redis":
        settings.CACHES = {"default": cache_config(request.getfixturevalue("redis_url"))}
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "p"}}
    cache.clear()
    yield request.param
    cache.clear()


@pytest.fixture
def slow_reads(shared_cache, monkeypatch):
    """A loaded host: each read of the cache answers, then its thread waits a little before going on,
    as when another process holds the core, so polls at the same instant overlap between read and write."""
    backend = type(caches["default"])

    def slowed(read):
        def wrapper(*args, **kwargs):
            value = read(*args, **kwargs)
            time.sleep(0.02)
            return value

        return wrapper

    monkeypatch.setattr(backend, "get", slowed(backend.get))
    monkeypatch.setattr(backend, "get_many", slowed(backend.get_many))
    return shared_cache


def at_once(calls: list[dict]) -> None:
    """presence_mark with each set of arguments, all on their own thread, released at the same instant."""
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def poll(kwargs: dict) -> None:
        try:
            start.wait(timeout=10)
            presence.presence_mark(**kwargs)
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=poll, args=(kwargs,)) for kwargs in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors, errors


class TestMarksAtTheSameInstant:
    AGENTS = 12
    ROUNDS = 10

    def test_agents_marking_at_once_each_keep_their_mark(self, slow_reads):
        """Every agent of a ticket polls at the same instant, on threads with their own cache connection:
        none of the marks is dropped, so an observer right after sees them all."""
        now = time.time()
        agents = {n: f"A{n:02}" for n in range(1, self.AGENTS + 1)}
        missing: dict[int, set[str]] = {}
        for ticket_id in range(1, self.ROUNDS + 1):
            at_once(
                [
                    {"ticket_id": ticket_id, "user_id": n, "name": name, "state": "viewing", "now": now}
                    for n, name in agents.items()
                ]
            )
            seen = presence.presence_mark(ticket_id=ticket_id, user_id=999, name="Observer", state="viewing", now=now)
            lost = set(agents.values()) - {other["name"] for other in seen}
            if lost:
                missing[ticket_id] = lost
        assert missing == {}

    def test_an_agent_leaving_while_others_arrive_drops_only_their_own_mark(self, slow_reads):
        now = time.time()
        for n in range(1, 5):
            presence.presence_mark(ticket_id=7, user_id=n, name=f"A{n}", state="viewing", now=now)

        at_once(
            [
                {"ticket_id": 7, "user_id": n, "name": f"A{n}", "state": state, "now": now + 1}
                for n, state in [(1, "gone"), (2, "gone"), (5, "replying"), (6, "viewing")]
            ]
        )

        seen = presence.presence_mark(ticket_id=7, user_id=999, name="Observer", state="viewing", now=now + 2)
        assert seen == [
            {"name": "A5", "state": "replying"},
            {"name": "A3", "state": "viewing"},
            {"name": "A4", "state": "viewing"},
            {"name": "A6", "state": "viewing"},
        ]


class TestReplyAfterSomeoneElse:
    def test_a_reply_written_before_a_new_message_waits_for_a_confirmation(self, agent, omar, customer):
        ticket = TicketFactory(requester=customer)
        seen = usecases.reply(ticket=ticket, author=customer, body="Any news?", now=timezone.now())
        usecases.reply(ticket=ticket, author=omar, body="Replacement ships today.", now=timezone.now())
        client = as_user(agent)

        response = client.post(reply_url(ticket), {"body": "We will ship one.", "internal": "false", "seen": seen.pk})

        assert response.status_code == 409
        html = response.content.decode()
        assert "Replacement ships today." in html
        assert "We will ship one." in html  # the draft is kept
        assert "Send reply anyway" in html
        assert not ticket.messages.filter(body="We will ship one.").exists()

        confirmed = client.post(
            reply_url(ticket),
            {"body": "We will ship one.", "internal": "false", "seen": seen.pk, "confirmed": "True"},
        )

        assert confirmed.status_code == 302
        assert ticket.messages.filter(body="We will ship one.", internal=False).count() == 1

    def test_a_reply_after_the_newest_message_posts_at_once(self, agent, omar, customer):
        ticket = TicketFactory(requester=customer)
        usecases.reply(ticket=ticket, author=customer, body="Any news?", now=timezone.now())
        newest = usecases.reply(ticket=ticket, author=omar, body="Replacement ships today.", now=timezone.now())

        response = as_user(agent).post(
            reply_url(ticket), {"body": "Tracking number follows.", "internal": "true", "seen": newest.pk}
        )

        assert response.status_code == 302
        assert ticket.messages.filter(body="Tracking number follows.", internal=True).count() == 1
