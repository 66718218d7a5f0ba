"""An incident's whole life, as the people who hear of it receive it.

Declare → Slack (a real HTTP server on loopback) and the escalation list (an aiosmtpd sink) carry
the procedures' Incident Declaration with every field → tickets linked → each customer acknowledged
once → updates reach Slack, the subscribers and the linked tickets' customers → the Resolution
Notification → update-cadence warnings once per due time. Everything goes through the outbox and
the relay, as in production; what is asserted is what the servers received.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import shutil
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import incidents as bench_incidents
from incidents import selectors, services
from incidents.models import Component, Incident, IncidentEvent, IncidentTicket, Subscriber
from notifications import relay
from notifications import tasks as notification_tasks
from notifications.models import Notification, SlackChannel
from support import usecases
from tests.escalation import test_workers as workers
from tests.escalation.processes import TEST_QUEUE, wait_for
from tests.notifications.servers import HttpRecorder, free_port, smtp_server
from tests.tickets.factories import TicketFactory, make_user
from tickets.models import Ticket

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # Tuesday 10:00 in London (GMT)
SIREN = "\U0001f6a8"
Kind = Notification.Kind
pytestmark = pytest.mark.django_db


# --- the servers -------------------------------------------------------------------------------


@pytest.fixture
def slack(settings):
    settings.NOTIFY_ALLOW_PRIVATE_URLS = True
    settings.NOTIFY_SLACK_MIN_INTERVAL_SECONDS = 0.01  # Slack's 1/s, scaled down
    with HttpRecorder() as server:
        SlackChannel.objects.filter(name="#support-critical").update(webhook_url=f"{server.url}/services/T/B/critical")
        SlackChannel.objects.filter(name="#support-general").update(webhook_url=f"{server.url}/services/T/B/general")
        yield server


@pytest.fixture
def sink(settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT, settings.EMAIL_USE_TLS = (
        "127.0.0.1",
        port,
        5,
        False,
    )
    controller, mails = smtp_server(port)
    controller.start()
    yield mails
    controller.stop()


class Inbox:
    """What the servers received since the last look: Slack texts per channel, mails per address."""

    def __init__(self, slack: HttpRecorder, sink) -> None:
        self.slack, self.sink = slack, sink
        self.seen_posts, self.seen_mails = 0, 0

    def deliver(self, at: datetime) -> None:
        result = relay.outbox_flush(now=at)
        assert result.dead == 0, result
        stuck = Notification.objects.exclude(status__in=["sent", "skipped"]).filter(next_attempt_at__lte=at)
        assert not stuck.exists(), list(stuck.values_list("kind", "recipient", "status", "last_error"))

    def posts(self) -> list[tuple[str, str]]:
        new = self.slack.requests[self.seen_posts :]
        self.seen_posts = len(self.slack.requests)
        return [(request.path.rsplit("/", 1)[-1], request.json()["text"]) for request in new]

    def mails(self) -> list:
        new = self.sink.messages[self.seen_mails :]
        self.seen_mails = len(self.sink.messages)
        return new


@pytest.fixture
def inbox(slack, sink) -> Inbox:
    return Inbox(slack, sink)


def text_of(message) -> str:
    """The text part as written (SMTP carries CRLF line ends)."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def to(messages) -> Counter:
    return Counter(message["To"] for message in messages)


# --- the people --------------------------------------------------------------------------------


@pytest.fixture
def people(db):
    commander = make_user("tina@sofacoverpro.com", "agent", tier=2, first_name="Tina", last_name="Tran")
    return {
        "commander": commander,
        "managers": [make_user(f"manager{n}@sofacoverpro.com", "manager") for n in range(3)],
        "alice": make_user("alice@example.com", "customer", first_name="Alice"),
        "bob": make_user("bob@example.com", "customer", first_name="Bob"),
    }


@pytest.fixture
def subscribers(db):
    def subscriber(email, confirmed=True, unsubscribed=False):
        return Subscriber.objects.create(
            email=email,
            created_at=NOW - timedelta(days=3),
            confirmed_at=NOW - timedelta(days=3) if confirmed else None,
            unsubscribed_at=NOW - timedelta(days=1) if unsubscribed else None,
        )

    return {
        "active": subscriber("watcher@example.org"),
        "customer": subscriber("bob@example.com"),  # also a linked ticket's customer: hears once, as that
        "unconfirmed": subscriber("pending@example.org", confirmed=False),
        "gone": subscriber("gone@example.org", unsubscribed=True),
    }


def declare(commander, **overrides) -> Incident:
    fields = {
        "severity": "P0",
        "title": "Checkout fails",
        "impact": "Card payments fail at checkout",
        "users_affected": 1200,
        "started_at": NOW - timedelta(minutes=4),
        "detected_at": NOW - timedelta(minutes=1),
        "commander": commander,
        "war_room": "https://meet.example.com/checkout",
        "actions": ["Roll back release 42", "Page the payments provider"],
        "components": Component.objects.filter(slug="checkout-payments"),
        "functionality": "card payments at checkout",
        "expected_resolution": "within 2 hours",
    }
    fields.update(overrides)
    return usecases.declare_incident(declared_by=commander, now=NOW, **fields)


DECLARATION = [
    f"{SIREN} INCIDENT DECLARED - P0",
    "Title: Checkout fails",
    "Impact: Card payments fail at checkout (1,200 users affected)",
    "Started: Tue 1 Dec 2026, 09:56 GMT",
    "Assigned: Tina Tran (tina@sofacoverpro.com)",
    "War Room: https://meet.example.com/checkout",
    "Current Actions:\n- Roll back release 42\n- Page the payments provider",
    "Next Update: Tue 1 Dec 2026, 10:30 GMT",
]


class TestTheWholeLife:
    def test_declare_link_update_resolve_each_heard_once_by_whom_it_concerns(self, inbox, people, subscribers):
        alice, bob, commander = people["alice"], people["bob"], people["commander"]

        # --- declared: Slack #support-critical and one mail to the escalation list, every field filled ---
        incident = declare(commander)
        inbox.deliver(NOW)
        ((channel, post),) = inbox.posts()
        assert channel == "critical"
        for line in DECLARATION:
            assert line in post, line
        assert incident.reference in post
        mails = inbox.mails()
        assert to(mails) == {"escalations@sofacoverpro.com": 1, "watcher@example.org": 1, "bob@example.com": 1}
        (declaration,) = [m for m in mails if m["To"] == "escalations@sofacoverpro.com"]
        assert declaration["Subject"] == f"{SIREN} INCIDENT DECLARED - P0: Checkout fails"
        for line in DECLARATION:
            assert line in text_of(declaration), line
        assert not [m for m in mails if m["To"].startswith("manager")]  # the list, not each manager
        # Subscribers (confirmed, not unsubscribed) hear that it is being investigated: public fields only.
        first = next(m for m in mails if m["To"] == "watcher@example.org")
        assert "Checkout fails" in first["Subject"]
        assert "Investigating" in text_of(first)
        for internal in ("meet.example.com", "Tina", "1,200", "Roll back"):
            assert internal not in first.as_string()

        # --- tickets linked: each customer acknowledged once, CCs too, in the thread of their first ticket ---
        alice_1 = TicketFactory(requester=alice, category="payment", subject="Card declined")
        alice_2 = TicketFactory(requester=alice, category="payment", subject="Paid twice?")
        bobs = TicketFactory(requester=bob, category="payment", subject="Checkout error")
        usecases.cc_add(ticket=bobs, email="bobs.partner@example.net", actor=commander, now=NOW)
        relay.outbox_flush(now=NOW)  # their ticket acknowledgments
        inbox.mails()
        links = usecases.incident_link(
            incident=incident, tickets=[alice_1, alice_2, bobs], by=commander, now=NOW + timedelta(minutes=2)
        )
        assert len(links) == 3
        inbox.deliver(NOW + timedelta(minutes=2))
        acks = inbox.mails()
        assert to(acks) == {"alice@example.com": 1, "bob@example.com": 1, "bobs.partner@example.net": 1}
        alices = next(m for m in acks if m["To"] == "alice@example.com")
        assert alices["Subject"] == f"[{alice_1.reference}] We're investigating an issue with Checkout and payments"
        body = text_of(alices)
        for line in (
            "Dear Alice,",
            "We're aware of an issue affecting card payments at checkout",
            "Current Status: Investigating: We are investigating this issue and will post updates here.",
            "Expected Resolution: within 2 hours",
            "Updates: We'll provide updates every 30 minutes",
        ):
            assert line in body, line
        assert alices["References"].startswith(f"<{alice_1.reference.lower()}@")
        assert not IncidentTicket.objects.filter(incident=incident, acknowledged_at__isnull=True).exists()
        # Linking again, or another ticket of someone already told, tells nobody anything new.
        alice_3 = TicketFactory(requester=alice, category="payment", subject="Still failing")
        relay.outbox_flush(now=NOW)
        inbox.mails()
        assert usecases.incident_link(incident=incident, tickets=[alice_1, bobs], by=commander, now=NOW) == []
        usecases.incident_link(incident=incident, tickets=[alice_3], by=commander, now=NOW + timedelta(minutes=3))
        inbox.deliver(NOW + timedelta(minutes=3))
        assert inbox.mails() == []
        assert Notification.objects.filter(kind=Kind.INCIDENT_ACK).count() == 3

        # --- an internal note: Slack only ---
        usecases.incident_update(
            incident=incident,
            author=commander,
            body="DB failover is a suspect",
            public=False,
            now=NOW + timedelta(minutes=5),
        )
        inbox.deliver(NOW + timedelta(minutes=5))
        ((_, note),) = inbox.posts()
        assert "*Internal note*" in note
        assert "DB failover is a suspect" in note
        assert inbox.mails() == []

        # --- a public update: Slack, the linked customers, the subscribers who are not among them ---
        usecases.incident_update(
            incident=incident,
            author=commander,
            body="Release 42 broke card tokenisation; rolling back.",
            status="identified",
            now=NOW + timedelta(minutes=20),
        )
        inbox.deliver(NOW + timedelta(minutes=20))
        ((_, update),) = inbox.posts()
        assert "Status: Identified" in update
        assert "Release 42 broke card tokenisation" in update
        mails = inbox.mails()
        assert to(mails) == {
            "alice@example.com": 1,
            "bob@example.com": 1,  # as Bob's ticket's customer, not again as a subscriber
            "bobs.partner@example.net": 1,
            "watcher@example.org": 1,
        }
        watcher = next(m for m in mails if m["To"] == "watcher@example.org")
        token = subscribers["active"].token
        assert watcher["List-Unsubscribe"].strip() == f"<http://127.0.0.1:8000/status/unsubscribe/{token}/>"
        assert f"/status/unsubscribe/{token}/" in text_of(watcher)
        assert "Release 42 broke card tokenisation" in text_of(watcher)
        bobs_update = next(m for m in mails if m["To"] == "bob@example.com")
        assert bobs_update["Subject"].startswith(f"[{bobs.reference}] Update: Checkout fails (Identified)")
        assert "List-Unsubscribe" not in bobs_update

        # --- resolved: the Resolution Notification once per customer, not the ordinary notice too ---
        usecases.resolve_incident(
            incident=incident,
            by=commander,
            now=NOW + timedelta(minutes=50),
            what_happened="Release 42 broke card tokenisation.",
            resolution="We rolled back release 42; payments work again.",
            prevention="A payment smoke test now gates every release.",
        )
        inbox.deliver(NOW + timedelta(minutes=50))
        ((_, resolved),) = inbox.posts()
        assert "*Resolved*" in resolved
        mails = inbox.mails()
        notices = [m for m in mails if "Issue Resolved" in m["Subject"]]
        assert to(notices) == {"alice@example.com": 1, "bob@example.com": 1, "bobs.partner@example.net": 1}
        notice = text_of(next(m for m in notices if m["To"] == "alice@example.com"))
        for line in (
            "The issue affecting card payments at checkout has been resolved as of Tue 1 Dec 2026, 10:50 GMT.",
            "What happened: Release 42 broke card tokenisation.",
            "Resolution: We rolled back release 42; payments work again.",
            "Prevention: A payment smoke test now gates every release.",
        ):
            assert line in notice, line
        # No ordinary "Resolved: <subject>" notice for the tickets that resolved with the incident ...
        assert not [m for m in mails if re.search(r"\] Resolved: ", m["Subject"])]
        assert not Notification.objects.filter(dedupe_key__startswith="resolved:").exists()
        # ... but the survey, once per ticket resolved (the requester only), after the notification.
        surveys = [m for m in mails if "How did we do?" in m["Subject"]]
        assert to(surveys) == {"alice@example.com": 3, "bob@example.com": 1}
        assert mails.index(notices[0]) < min(mails.index(m) for m in surveys)
        assert to([m for m in mails if m not in notices and m not in surveys]) == {"watcher@example.org": 1}
        for ticket in (alice_1, alice_2, alice_3, bobs):
            ticket.refresh_from_db()
            assert ticket.status == Ticket.Status.RESOLVED
        assert not IncidentTicket.objects.filter(resolution_sent_at__isnull=True).exists()

        # Nothing is sent twice, whatever flushes follow.
        inbox.deliver(NOW + timedelta(days=1))
        assert inbox.mails() == []
        assert inbox.posts() == []

    def test_a_p2_declaration_goes_to_support_general_and_says_what_is_unknown(self, inbox, people):
        declare(None, severity="P2", users_affected=None, war_room="", actions=[], started_at=None, detected_at=None)
        inbox.deliver(NOW)
        ((channel, post),) = inbox.posts()
        assert channel == "general"
        for line in (
            f"{SIREN} INCIDENT DECLARED - P2",
            "Impact: Card payments fail at checkout (number of users affected not yet known)",
            "Started: Tue 1 Dec 2026, 10:00 GMT",
            "Assigned: nobody yet: take command in the console",
            "War Room: #support-general (no war room given)",
            "Current Actions:\n- none recorded yet",
        ):
            assert line in post, line

    def test_what_people_wrote_cannot_make_slack_links_or_mentions(self, inbox, people):
        declare(people["commander"], title="<!channel> <https://evil.example|click> & co")
        inbox.deliver(NOW)
        ((_, post),) = inbox.posts()
        assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co" in post
        assert "<!channel>" not in post

    def test_no_escalation_list_configured_sends_no_mail(self, inbox, people, settings):
        settings.INCIDENT_ESCALATION_EMAIL = ""
        declare(people["commander"])
        inbox.deliver(NOW)
        assert len(inbox.posts()) == 1
        assert inbox.mails() == []


class TestAnUpdatesHtmlPart:
    def test_the_customers_and_subscribers_get_paragraphs_with_the_words_escaped_once(self, people, subscribers):
        """The update as its text/html alternative says it: real <p>, what the commander typed as typed."""
        incident = declare(people["commander"])
        ticket = TicketFactory(requester=people["alice"], category="payment", subject="Card declined")
        usecases.incident_link(incident=incident, tickets=[ticket], by=people["commander"], now=NOW)
        usecases.incident_update(
            incident=incident,
            author=people["commander"],
            body="Rolled back <b>42</b> & retried.\n\nPayments work again.",
            now=NOW + timedelta(minutes=20),
        )

        sent = {
            row.kind: row.body_html
            for row in Notification.objects.filter(
                kind__in=[Kind.INCIDENT_UPDATE, Kind.STATUS_UPDATE],
                channel=Notification.Channel.EMAIL,
                body__contains="Payments work again.",
            )
        }
        assert set(sent) == {Kind.INCIDENT_UPDATE, Kind.STATUS_UPDATE}
        for html in sent.values():
            assert "<p>Rolled back &lt;b&gt;42&lt;/b&gt; &amp; retried.</p>\n\n<p>Payments work again.</p>" in html
            assert "&lt;p&gt;" not in html
            assert "&amp;lt;" not in html
            assert "<b>" not in html


class TestAcknowledgment:
    def test_a_ticket_with_nobody_to_write_to_is_not_marked_acknowledged(self, people):
        incident = declare(people["commander"])
        silent = TicketFactory(requester=people["bob"])
        type(people["bob"]).objects.filter(pk=people["bob"].pk).update(email="")
        heard = TicketFactory(requester=people["alice"])
        usecases.incident_link(
            incident=incident, tickets=Ticket.objects.filter(pk__in=[silent.pk, heard.pk]), by=None, now=NOW
        )
        assert dict(IncidentTicket.objects.values_list("ticket_id", "acknowledged_at")) == {
            silent.pk: None,
            heard.pk: NOW,
        }
        usecases.cc_add(ticket=silent, email="bobs.partner@example.net", actor=people["commander"], now=NOW)
        usecases.incident_unlink(incident=incident, ticket=silent, by=None, now=NOW)
        usecases.incident_link(incident=incident, tickets=[silent], by=None, now=NOW)
        assert IncidentTicket.objects.get(ticket=silent).acknowledged_at == NOW
        assert Notification.objects.filter(kind=Kind.INCIDENT_ACK).count() == 2


class TestUpdateCadence:
    def test_the_commander_is_warned_before_each_due_time_once(self, inbox, people, settings):
        commander = people["commander"]
        incident = declare(commander)  # P0: the next update is due 10:30
        inbox.deliver(NOW)
        inbox.posts(), inbox.mails()

        assert usecases.incident_sweep(now=NOW + timedelta(minutes=15)).warned == 0  # 15 min ahead: not yet
        first = usecases.incident_sweep(now=NOW + timedelta(minutes=21))
        again = usecases.incident_sweep(now=NOW + timedelta(minutes=22))
        assert (first.warned, again.warned) == (1, 0)
        inbox.deliver(NOW + timedelta(minutes=22))
        ((_, post),) = inbox.posts()
        assert "the next update is due Tue 1 Dec 2026, 10:30 GMT (in 9 min)" in post
        assert "(Tina Tran)" in post
        (mail,) = inbox.mails()
        assert mail["To"] == commander.email
        assert mail["Subject"] == f"{incident.reference}: the next update is due Tue 1 Dec 2026, 10:30 GMT"
        dashboard = Notification.objects.get(kind=Kind.UPDATE_DUE, channel="dashboard")
        assert dashboard.user == commander

        # An update restarts the cadence: the new due time is warned about, once.
        usecases.incident_update(
            incident=incident, author=commander, body="Rolling back", now=NOW + timedelta(minutes=25)
        )
        assert usecases.incident_sweep(now=NOW + timedelta(minutes=44)).warned == 0
        assert usecases.incident_sweep(now=NOW + timedelta(minutes=46)).warned == 1
        assert usecases.incident_sweep(now=NOW + timedelta(minutes=50)).warned == 0
        assert Notification.objects.filter(kind=Kind.UPDATE_DUE).count() == 6  # 2 due times x 3 channels
        # Resolved incidents have no cadence.
        usecases.resolve_incident(
            incident=incident,
            by=commander,
            now=NOW + timedelta(minutes=51),
            what_happened="w",
            resolution="r",
            prevention="p",
        )
        assert usecases.incident_sweep(now=NOW + timedelta(hours=5)).warned == 0

    def test_an_internal_note_does_not_restart_the_cadence(self, people):
        incident = declare(people["commander"])
        usecases.incident_update(
            incident=incident, author=people["commander"], body="psst", public=False, now=NOW + timedelta(minutes=25)
        )
        assert usecases.incident_sweep(now=NOW + timedelta(minutes=25)).warned == 1

    def test_the_beat_runs_the_sweep(self, settings):
        assert settings.CELERY_BEAT_SCHEDULE["incident-sweep"]["task"] == "support.tasks.incident_sweep"
        from support import tasks

        assert tasks.incident_sweep.run() == "update warnings 0"

    def test_of_two_sweeps_holding_the_same_incident_one_claims_the_warning(self, people):
        incident = declare(people["commander"])
        (listed,) = selectors.updates_coming_due(lead_until=NOW + timedelta(minutes=30))  # both sweeps read it
        (also,) = selectors.updates_coming_due(lead_until=NOW + timedelta(minutes=30))
        assert services.update_warned(incident=listed)
        assert not services.update_warned(incident=also)
        # A due time moved by an update meanwhile is not claimed with the old one.
        usecases.incident_update(
            incident=incident, author=people["commander"], body="x", now=NOW + timedelta(minutes=5)
        )
        incident.refresh_from_db()
        assert not services.update_warned(incident=listed)
        assert services.update_warned(incident=incident)


# --- exactly once: two callers at once, two relay workers, a killed worker (PostgreSQL) ---------------

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
needs_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL, reason="needs PostgreSQL: concurrent transactions and worker processes share its database"
)
committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)


# The fault tests' real processes: a dedicated redis-server and Celery workers on the test database.
redis_server, broker, start_worker = workers.redis_server, workers.broker, workers.start_worker


def broadcast_desk(count: int, *, prefix: str) -> list[Ticket]:
    customers = bench_incidents.customers_bulk(count, prefix=prefix, now=NOW)
    ids = bench_incidents.tickets_bulk(customers, subject=f"Broadcast {prefix}", now=NOW)
    return list(Ticket.objects.filter(pk__in=ids).select_related("requester").order_by("id"))


@needs_postgresql
@committed
class TestTwoCallersAtOnce:
    def test_two_agents_linking_the_same_tickets_acknowledge_each_customer_once(self, people):
        incident = declare(people["commander"])
        tickets = broadcast_desk(200, prefix="race")
        second = make_user("sam@sofacoverpro.com", "agent", tier=2)

        results = _concurrently(
            [
                lambda: usecases.incident_link(incident=incident, tickets=tickets, by=people["commander"], now=NOW),
                lambda: usecases.incident_link(incident=incident, tickets=tickets[::-1], by=second, now=NOW),
            ]
        )

        acks = Notification.objects.filter(kind=Kind.INCIDENT_ACK)
        assert acks.count() == 200
        assert set(Counter(acks.values_list("recipient", flat=True)).values()) == {1}
        assert IncidentTicket.objects.filter(incident=incident).count() == 200
        assert not IncidentTicket.objects.filter(incident=incident, acknowledged_at__isnull=True).exists()
        assert sorted(len(links) for links in results) == [0, 200]  # one linked them all, the other found them linked
        assert IncidentEvent.objects.filter(incident=incident, kind="linked").count() == 200

    def test_two_sweeps_at_once_warn_once(self, people):
        for n in range(20):
            declare(people["commander"], title=f"Outage {n}")
        results = _concurrently([lambda: usecases.incident_sweep(now=NOW + timedelta(minutes=25))] * 2)
        assert sum(result.warned for result in results) == 20
        assert Notification.objects.filter(kind=Kind.UPDATE_DUE, channel="slack").count() == 20
        assert Notification.objects.filter(kind=Kind.UPDATE_DUE, channel="email").count() == 20


def _concurrently(calls) -> list:
    """Run each call in its own thread and database connection, released together."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(10)
            results[n] = calls[n]()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


class SlowSink:
    """An aiosmtpd handler that takes its time over each message (so a worker can be killed mid-batch)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.message_ids: list[str] = []
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.message_ids.append(message["Message-ID"])
        self.recipients.append(message["To"])
        return "250 Message accepted for delivery"


@pytest.fixture
def slow_sink():
    port = free_port()
    handler = SlowSink(delay=0.02)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port  # type: ignore[attr-defined]
    yield handler
    controller.stop()


def relay_env(sink) -> dict[str, str]:
    """The workers mail the sink over SMTP, in small claims (so several relays interleave)."""
    return {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "NOTIFY_RELAY_BATCH": "20",
        "NOTIFY_KICK_ON_COMMIT": "0",
    }


def flushes(count: int) -> None:
    for _ in range(count):
        notification_tasks.deliver_outbox.apply_async(queue=TEST_QUEUE)


def flushes_finished(workers, expected: int) -> bool:
    failed = [w.name for w in workers if "raised unexpected" in w.log()]
    if failed:
        raise AssertionError(f"a flush failed in {failed}:\n" + "\n".join(w.log()[-3000:] for w in workers))
    return sum(w.count("succeeded in") for w in workers) >= expected


@needs_postgresql
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
@pytest.mark.timeout(600)
@committed
class TestRelayWorkers:
    def test_two_workers_deliver_a_broadcast_each_mail_exactly_once(self, broker, start_worker, slow_sink, people):
        incident = declare(people["commander"])
        tickets = broadcast_desk(300, prefix="two-workers")
        usecases.incident_link(incident=incident, tickets=tickets, by=people["commander"], now=NOW)
        rows = Notification.objects.filter(channel="email", status="pending")
        expected = dict(rows.values_list("message_id", "recipient"))
        assert len(expected) == 301  # 300 acknowledgments and the declaration to the list

        workers = [start_worker(name, **relay_env(slow_sink)) for name in ("one", "two")]
        flushes(6)  # overlapping flushes on four pool processes
        wait_for(lambda: flushes_finished(workers, 6), timeout=300, interval=0.5, what="six flushes")

        assert Counter(slow_sink.message_ids) == Counter(set(expected))  # every mail once, none twice
        assert sorted(slow_sink.recipients) == sorted(expected.values())
        assert not Notification.objects.filter(channel="email").exclude(status="sent").exists()
        assert all(w.count("succeeded in") >= 1 for w in workers), "both workers took part"

    def test_a_killed_worker_loses_nothing_and_resends_only_what_was_in_flight(
        self, broker, start_worker, slow_sink, people, settings
    ):
        incident = declare(people["commander"])
        tickets = broadcast_desk(300, prefix="killed")
        usecases.incident_link(incident=incident, tickets=tickets, by=people["commander"], now=NOW)
        mails = Notification.objects.filter(channel="email")
        expected = set(mails.values_list("message_id", flat=True))

        victim = start_worker("victim", **relay_env(slow_sink))
        flushes(1)
        wait_for(lambda: len(slow_sink.message_ids) >= 40, timeout=120, what="the broadcast to be under way")
        for pid in victim.pool_pids():  # SIGKILL mid-batch: rows it claimed stay "sending" under its lease
            os.kill(pid, signal.SIGKILL)
        victim.kill()
        delivered = len(slow_sink.message_ids)
        in_flight = mails.filter(status="sending").count()
        assert 40 <= delivered < len(expected), "killed mid-broadcast"

        survivor = start_worker("survivor", **relay_env(slow_sink))
        flushes(2)
        wait_for(lambda: flushes_finished([survivor], 2), timeout=300, interval=0.5, what="the next flushes")
        # The dead worker's lease runs out; the next flush after it sends what it held.
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", slow_sink.port, False
        lease = timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
        relay.outbox_flush(now=timezone.now() + lease + timedelta(seconds=1))

        assert not mails.exclude(status="sent").exists()
        received = Counter(slow_sink.message_ids)
        assert set(received) == expected  # nothing lost
        resent = [message_id for message_id, times in received.items() if times > 1]
        assert len(resent) <= in_flight  # only a mail accepted just before the kill goes twice ...
        assert set(received.values()) <= {1, 2}  # ... and at most twice, with the same Message-ID
        print(f"\nkilled after {delivered} of {len(expected)} mails, {in_flight} in flight; {len(resent)} resent")


# --- a broadcast's cost: rendered once, read once, written once --------------------------------------


class TestBulkRender:
    VALUES = [
        {"customer_name": "Alice", "ticket_subject": "Card declined"},
        {"customer_name": "Seán O'Brien & <Co>", "ticket_subject": 'Says "error" <b>twice</b>'},
        {"customer_name": "Two  spaces\tand a tab", "ticket_subject": "x" * 400},
        {"customer_name": "Line\nbreak", "ticket_subject": "Another\r\nline"},
        {"customer_name": "@@scpbulk not a marker@@", "ticket_subject": "{{ customer_name }}"},
    ]

    def _values(self, n: int, extra: dict) -> dict[str, str]:
        return {
            "ticket_reference": f"SCP-{n:06d}",
            "ticket_url": f"http://127.0.0.1:8000/tickets/SCP-{n:06d}/",
            "priority": "P1",
            **extra,
        }

    @pytest.mark.parametrize("key", ["acknowledgment", "resolution"])
    @pytest.mark.parametrize(
        "edit",
        [
            {},
            {"subject": "{{ customer_name }}, {{ ticket_subject }} ({{ service }})"},
            {"body_html": "<p>Hi {{ customer_name }}</p><p>{{ ticket_subject }} &amp; {{ functionality }}</p>"},
            {"subject": "{{ customer_name|upper }}: {{ service }}"},  # a filter: rendered in full
        ],
    )
    def test_renders_exactly_what_the_template_engine_renders(self, key, edit):
        from notifications import incidents as told
        from notifications import messages
        from notifications.models import CommunicationTemplate

        template = CommunicationTemplate.objects.get(key=key)
        for field, value in edit.items():
            setattr(template, field, value)
        shared = {
            "service": "Checkout & payments",
            "functionality": "card <payments>",
            "status": 'Investigating: it\'s "bad"',
            "expected_resolution": "2 h",
            "update_frequency": "30 minutes",
            "next_update": "Tue 1 Dec 2026, 10:30 GMT",
            "resolved_at": "Tue 1 Dec 2026, 10:50 GMT",
            "what_happened": "A & B",
            "resolution": "<rolled back>",
            "prevention": "Tests",
        }
        shared = {k: v for k, v in shared.items() if k in messages.PLACEHOLDERS[key]}
        bulk = told.BulkRender(template, shared)
        assert bulk.fast == ("|upper" not in edit.get("subject", ""))
        for n, extra in enumerate(self.VALUES):
            values = self._values(n, extra)
            assert bulk(values) == messages.render(template, {**shared, **values}), extra

    def test_a_broadcast_reads_and_writes_in_a_few_statements_however_many_customers(self, people):
        """The same statements for 5 customers as for 60, besides the outbox rows' own writing
        (sofacover.dbutil: COPY through a staging table on PostgreSQL, an INSERT per row on SQLite)."""
        incident = declare(people["commander"])

        def statements(call) -> list[str]:
            with CaptureQueriesContext(connection) as captured:
                call()
            outbox = ('INSERT INTO "notifications_notification"', '"stage_notifications_notification')
            return [q["sql"] for q in captured.captured_queries if not any(o in q["sql"] for o in outbox)]

        def link(tickets) -> None:
            usecases.incident_link(incident=incident, tickets=tickets, by=people["commander"], now=NOW)

        link(broadcast_desk(1, prefix="warm"))  # the templates and policies, read once per process
        desks = [broadcast_desk(count, prefix=f"cost-{count}") for count in (5, 60)]
        links = [statements(lambda t=tickets: link(t)) for tickets in desks]
        assert len(links[0]) == len(links[1]) <= 14, "\n".join(q[:150] for q in links[0] + ["--"] + links[1])
        update = statements(
            lambda: usecases.incident_update(incident=incident, author=people["commander"], body="x", now=NOW)
        )
        assert len(update) <= 14, update
        assert Notification.objects.filter(kind=Kind.INCIDENT_UPDATE, channel="email").count() == 66
