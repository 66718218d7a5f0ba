"""The relay and its senders against real servers on loopback: SMTP (aiosmtpd), Slack, Twilio, webhooks."""

from __future__ import annotations

import base64
import logging
import math
import re
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from escalation.models import SlaBreach
from notifications import delivery, relay, tasks, urlsafety
from notifications import services as notifications
from notifications.models import Notification, Responder, SlackChannel, WebhookEndpoint
from tests.notifications.servers import HttpRecorder, Reply, free_port, smtp_server
from tests.notifications.test_notifications import fake_dns
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets.models import Ticket

Channel, Kind, Status = Notification.Channel, Notification.Kind, Notification.Status
TOKEN = "tw-secret-token-9f8e7d"
SID = "ACtest0001"
FROM = "+15005550006"
PHONE = "+447700900123"


@pytest.fixture
def http():
    with HttpRecorder() as server:
        yield server


@pytest.fixture
def slack(http, settings):
    settings.NOTIFY_ALLOW_PRIVATE_URLS = True
    SlackChannel.objects.filter(name="#support-critical").update(webhook_url=f"{http.url}/services/T0/B0/critical")
    SlackChannel.objects.filter(name="#support-general").update(webhook_url=f"{http.url}/services/T0/B0/general")
    return http


@pytest.fixture
def twilio(http, settings):
    settings.TWILIO_API_BASE = http.url
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM_NUMBER = SID, TOKEN, FROM
    http.default = Reply(201, {"sid": "SM0001", "status": "queued"})
    return http


@pytest.fixture
def smtp_settings(settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 3
    settings.EMAIL_USE_TLS = False
    return port


def slack_row(key: str = "k", recipient: str = "#support-critical", line: str = "line", now=T0) -> Notification:
    notifications.queue(
        channel=Channel.SLACK,
        kind=Kind.BREACHED,
        recipient=recipient,
        body=f"body {key}",
        payload={"line": line},
        dedupe_key=key,
        now=now,
    )
    return Notification.objects.get(dedupe_key=key)


def automated(message) -> None:
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["X-Loop"] == "support@sofacoverpro.com"
    assert message["Message-ID"].endswith("@desk.sofacoverpro.com>")


@pytest.mark.django_db
class TestEmail:
    def test_smtp_down_then_up_delivers_every_mail_exactly_once(self, smtp_settings, customer):
        for n in range(3):
            TicketFactory(requester=customer, subject=f"Cover {n} torn")
        mails = Notification.objects.filter(channel=Channel.EMAIL)
        assert mails.count() == 3

        down = relay.outbox_flush(now=T0)  # nothing listens on the port
        assert (down.sent, down.retrying) == (0, 3)
        for row in mails:
            assert (row.status, row.attempts) == (Status.PENDING, 1)
            assert row.next_attempt_at > T0
            assert "unreachable" in row.last_error

        controller, sink = smtp_server(smtp_settings)
        controller.start()
        try:
            assert relay.outbox_flush(now=T0 + timedelta(hours=1)).sent == 3
            assert relay.outbox_flush(now=T0 + timedelta(hours=2)).claimed == 0
        finally:
            controller.stop()
        assert len(sink.messages) == 3
        assert sorted(m["Message-ID"] for m in sink.messages) == sorted(mails.values_list("message_id", flat=True))
        assert set(mails.values_list("status", "attempts")) == {(Status.SENT, 2)}
        for message in sink.messages:
            automated(message)
            assert message["References"].startswith("<scp-")
            assert message.get_body(("html",)) is not None
            assert message.get_body(("plain",)) is not None
            # The ticket acknowledgment (not the incident bulletin), with the reference in front.
            assert re.fullmatch(r"\[SCP-\d{6}\] We have received your request: Cover \d torn", message["Subject"])

    def test_a_relay_killed_after_the_250_resends_once_with_the_same_message_id(self, smtp_settings, customer):
        TicketFactory(requester=customer)
        controller, sink = smtp_server(smtp_settings)
        controller.start()
        try:
            _, (row,) = relay.outbox_claim(now=T0, limit=10)
            with delivery.Mailer() as mailer:
                mailer.send(row)  # accepted by the server ... and the worker dies before marking it sent
            assert relay.outbox_flush(now=T0 + timedelta(minutes=1)).claimed == 0  # its lease still runs
            lease = timedelta(seconds=relay.settings.NOTIFY_LEASE_SECONDS)
            assert relay.outbox_flush(now=T0 + lease + timedelta(seconds=1)).sent == 1
        finally:
            controller.stop()
        row.refresh_from_db()
        assert (row.status, row.attempts) == (Status.SENT, 2)
        assert [m["Message-ID"] for m in sink.messages] == [row.message_id, row.message_id]

    def test_every_mail_in_the_locmem_outbox_is_marked_automated(self, customer, agent):
        ticket = TicketFactory(requester=customer, priority="P1")
        Ticket.objects.filter(pk=ticket.pk).update(status="open")
        relay.outbox_flush(now=T0)
        assert len(mail.outbox) == 2  # the acknowledgment and the agent's alert
        for message in mail.outbox:
            automated(message.message())

    def test_the_smtp_password_never_reaches_the_row_or_the_log(self, smtp_settings, settings, customer, caplog):
        settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "desk", "smtp-secret-pw-4711"
        TicketFactory(requester=customer)
        controller, _ = smtp_server(smtp_settings)  # offers no AUTH: login fails
        controller.start()
        try:
            with caplog.at_level(logging.DEBUG):
                relay.outbox_flush(now=T0)
        finally:
            controller.stop()
        row = Notification.objects.get(channel=Channel.EMAIL)
        assert row.status == Status.PENDING
        assert row.last_error
        assert "smtp-secret-pw-4711" not in row.last_error + caplog.text


@pytest.mark.django_db
class TestSlack:
    def test_the_post_is_the_incoming_webhook_json(self, slack, customer):
        ticket = TicketFactory(requester=customer, priority="P1", subject="Checkout <b>broken</b> @channel")
        relay.outbox_flush(now=T0)
        (request,) = slack.requests
        assert (request.method, request.path) == ("POST", "/services/T0/B0/critical")
        assert request.headers["Content-Type"] == "application/json"
        text = request.json()["text"]
        assert list(request.json()) == ["text"]
        assert text.startswith("\U0001f6a8 INCIDENT DECLARED - P1")
        assert ticket.reference in text
        assert "&lt;b&gt;broken&lt;/b&gt;" in text
        row = Notification.objects.get(channel=Channel.SLACK)
        assert (row.status, row.attempts, row.provider_id) == (Status.SENT, 1, "slack:#support-critical")

    def test_500_three_times_then_200_is_retried_with_growing_backoff_and_sent_once(self, slack):
        slack.script = [Reply(500), Reply(502), Reply(503), Reply(200)]
        row = slack_row()
        now, waits = T0, []
        for _ in range(3):
            relay.outbox_flush(now=now)
            row.refresh_from_db()
            assert row.status == Status.PENDING
            assert "answered 5" in row.last_error
            assert relay.outbox_flush(now=row.next_attempt_at - timedelta(seconds=1)).claimed == 0
            waits.append((row.next_attempt_at - now).total_seconds())
            now = row.next_attempt_at
        assert 15 <= waits[0] <= 35
        assert 30 <= waits[1] <= 65
        assert 60 <= waits[2] <= 125  # 30 s * 2^n, jittered, plus a few seconds for a loaded machine
        assert relay.outbox_flush(now=now).sent == 1
        relay.outbox_flush(now=now + timedelta(days=1))
        row.refresh_from_db()
        assert (row.status, row.attempts, len(slack.requests)) == (Status.SENT, 4, 4)

    def test_429_waits_for_retry_after(self, slack):
        slack.script = [Reply(429, "rate_limited", {"Retry-After": "120"})]
        row = slack_row()
        relay.outbox_flush(now=T0)
        row.refresh_from_db()
        assert row.status == Status.PENDING
        assert row.next_attempt_at >= T0 + timedelta(seconds=120)
        assert relay.outbox_flush(now=T0 + timedelta(seconds=119)).claimed == 0
        assert relay.outbox_flush(now=row.next_attempt_at).sent == 1
        assert len(slack.requests) == 2

    def test_400_is_a_dead_letter_with_one_alert_and_the_admin_can_retry_it(self, slack, manager):
        slack.script = [Reply(400, "invalid_payload")] * 3
        first = slack_row("a", "#support-critical")
        second = slack_row("b", "#support-general")
        result = relay.outbox_flush(now=T0)
        assert (result.dead, result.retrying) == (2, 0)
        relay.outbox_flush(now=T0 + timedelta(minutes=30))
        third = slack_row("c", now=T0 + timedelta(minutes=31))
        relay.outbox_flush(now=T0 + timedelta(minutes=31))
        assert len(slack.requests) == 3  # each tried once, none retried
        for row in (first, second, third):
            row.refresh_from_db()
            assert (row.status, row.attempts) == (Status.DEAD, 1)
            assert row.last_error == "Slack " + row.recipient + " answered 400: invalid_payload"
        alerts = Notification.objects.filter(kind=Kind.SYSTEM)
        assert sorted(alerts.values_list("channel", "recipient")) == [
            ("dashboard", manager.email),
            ("slack", "#launch-monitoring"),
        ]
        client = Client()
        client.force_login(manager)
        page = client.get("/admin/notifications/notification/?status__exact=dead").content.decode()
        assert "invalid_payload" in page
        assert "/services/" not in page
        response = client.post(
            "/admin/notifications/notification/", {"action": "retry", "_selected_action": [first.pk, second.pk]}
        )
        assert response.status_code == 302
        first.refresh_from_db()
        assert (first.status, first.attempts, first.last_error) == (Status.PENDING, 0, "")
        assert relay.outbox_flush(now=timezone.now()).sent == 2  # the admin action reads the clock
        assert len(slack.requests) == 5

    def test_an_agent_cannot_retry_dead_letters(self, agent):
        client = Client()
        client.force_login(agent)
        assert client.get("/admin/notifications/notification/").status_code == 403

    def test_an_unconfigured_channel_is_skipped_not_crashed(self, http):
        row = slack_row()
        assert relay.outbox_flush(now=T0).skipped == 1
        row.refresh_from_db()
        assert row.status == Status.SKIPPED
        assert "no incoming-webhook URL" in row.last_error
        assert http.requests == []


@pytest.mark.django_db
class TestTwilio:
    def test_sms_and_call_are_the_exact_rest_requests(self, twilio, customer):
        on_call = make_user("oncall@sofacoverpro.com", "agent", tier=1)
        Responder.objects.create(user=on_call, phone_number=PHONE, on_call=True)
        ticket = TicketFactory(requester=customer, priority="P0", subject="Payments fail")
        relay.outbox_flush(now=T0)
        auth = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        by_path = {request.path: request for request in twilio.requests}
        assert set(by_path) == {
            f"/2010-04-01/Accounts/{SID}/Messages.json",
            f"/2010-04-01/Accounts/{SID}/Calls.json",
        }
        sms = by_path[f"/2010-04-01/Accounts/{SID}/Messages.json"]
        assert sms.headers["Authorization"] == auth
        assert sms.headers["Content-Type"] == "application/x-www-form-urlencoded"
        row = Notification.objects.get(channel=Channel.SMS)
        assert sms.form() == {"To": PHONE, "From": FROM, "Body": row.body}
        assert f"{ticket.reference}" in row.body
        call = by_path[f"/2010-04-01/Accounts/{SID}/Calls.json"]
        assert call.headers["Authorization"] == auth
        form = call.form()
        assert (form["To"], form["From"]) == (PHONE, FROM)
        assert form["Twiml"].startswith('<Response><Say voice="alice">SofaCover Pro support alert.')
        assert ticket.reference in form["Twiml"]
        assert set(Notification.objects.filter(channel__in=["sms", "phone"]).values_list("status", "provider_id")) == {
            (Status.SENT, "SM0001")
        }
        slack_row_ = Notification.objects.get(channel=Channel.SLACK)  # #support-critical has no URL here
        assert slack_row_.status == Status.SKIPPED

    def test_pages_to_one_person_are_coalesced_and_capped(self, twilio):
        for n in range(5):
            notifications.queue(
                channel=Channel.SMS, kind=Kind.BREACHED, recipient=PHONE, body=f"SCP-{n}", dedupe_key=f"s{n}", now=T0
            )
        relay.outbox_flush(now=T0)
        (request,) = twilio.requests
        assert request.form()["Body"].startswith("5 SofaCover alerts: SCP-0; SCP-1")
        for n in range(5, 7):
            notifications.queue(
                channel=Channel.SMS, kind=Kind.BREACHED, recipient=PHONE, body=f"SCP-{n}", dedupe_key=f"s{n}", now=T0
            )
        result = relay.outbox_flush(now=T0 + timedelta(seconds=10))  # within the person's minute: deferred
        assert (result.deferred, len(twilio.requests)) == (2, 1)
        assert relay.outbox_flush(now=T0 + timedelta(seconds=61)).sent == 2
        assert len(twilio.requests) == 2
        assert set(Notification.objects.values_list("status", "attempts")) == {(Status.SENT, 1)}

    def test_no_credentials_or_no_phone_number_is_skipped(self, settings, http):
        settings.TWILIO_ACCOUNT_SID = ""
        notifications.queue(channel=Channel.SMS, kind=Kind.BREACHED, recipient=PHONE, body="x", dedupe_key="a", now=T0)
        notifications.queue(channel=Channel.PHONE, kind=Kind.BREACHED, recipient="", body="x", dedupe_key="b", now=T0)
        assert relay.outbox_flush(now=T0).skipped == 2
        assert http.requests == []

    def test_the_auth_token_never_reaches_the_row_the_log_or_the_admin(self, twilio, caplog, manager):
        twilio.default = Reply(401, {"code": 20003, "message": f"Authenticate (got {TOKEN})"})
        notifications.queue(channel=Channel.SMS, kind=Kind.BREACHED, recipient=PHONE, body="x", dedupe_key="a", now=T0)
        with caplog.at_level(logging.DEBUG):
            relay.outbox_flush(now=T0)
        row = Notification.objects.get(dedupe_key="a")
        assert row.status == Status.DEAD
        assert "401" in row.last_error
        assert "20003" in row.last_error
        client = Client()
        client.force_login(manager)
        page = client.get(f"/admin/notifications/notification/{row.pk}/change/").content.decode()
        assert TOKEN not in row.last_error + caplog.text + page


@pytest.mark.django_db
class TestDestinationsAtSendTime:
    def _hook(self, url: str) -> Notification:
        endpoint = WebhookEndpoint.objects.create(name="ops", url="https://hooks.example.com/x")
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)  # as if DNS or the URL changed after save
        endpoint.refresh_from_db()
        notifications.queue(
            channel=Channel.WEBHOOK,
            kind=Kind.BREACHED,
            recipient="ops",
            webhook=endpoint,
            body="x",
            payload={"n": 1},
            dedupe_key="w",
            now=T0,
        )
        return Notification.objects.get(dedupe_key="w")

    @pytest.fixture(autouse=True)
    def _public_dns(self, monkeypatch):
        monkeypatch.setattr(urlsafety.socket, "getaddrinfo", fake_dns({"hooks.example.com": "34.226.36.52"}))

    def test_a_name_that_now_resolves_to_loopback_is_refused_before_connecting(self, http, monkeypatch):
        monkeypatch.setattr(
            urlsafety.socket, "getaddrinfo", fake_dns({"hooks.example.com": "34.226.36.52", "evil.test": "127.0.0.1"})
        )
        row = self._hook(f"http://evil.test:{http.server.server_address[1]}/hook")
        relay.outbox_flush(now=T0)
        row.refresh_from_db()
        assert row.status == Status.DEAD
        assert "destination refused" in row.last_error
        assert http.requests == []

    def test_the_connected_peer_is_checked_even_if_the_name_check_is_fooled(self, http, monkeypatch):
        row = self._hook(f"{http.url}/hook")
        monkeypatch.setattr(urlsafety, "check_url", lambda url: None)  # DNS rebinding: the check saw a public IP
        relay.outbox_flush(now=T0)
        row.refresh_from_db()
        assert row.status == Status.DEAD
        assert "non-public address 127.0.0.1" in row.last_error
        assert http.requests == []

    def test_a_redirect_to_a_private_address_is_refused(self, http, settings):
        settings.NOTIFY_PRIVATE_URL_ALLOWLIST = ["127.0.0.1/32"]
        http.script = [Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})]
        row = self._hook(f"{http.url}/hook")
        relay.outbox_flush(now=T0)
        row.refresh_from_db()
        assert row.status == Status.DEAD
        assert "169.254.169.254" in row.last_error
        assert len(http.requests) == 1

    def test_redirects_are_followed_by_hand_and_limited(self, http, settings):
        settings.NOTIFY_ALLOW_PRIVATE_URLS = True
        http.script = [Reply(307, b"", {"Location": "/final"})]
        row = self._hook(f"{http.url}/hook")
        relay.outbox_flush(now=T0)
        row.refresh_from_db()
        assert row.status == Status.SENT
        assert [(r.method, r.path, r.json()) for r in http.requests] == [
            ("POST", "/hook", {"n": 1}),
            ("POST", "/final", {"n": 1}),
        ]
        http.script = lambda request: Reply(302, b"", {"Location": "/again"})
        WebhookEndpoint.objects.update(url=f"{http.url}/loop")
        notifications.queue(
            channel=Channel.WEBHOOK,
            kind=Kind.BREACHED,
            recipient="ops",
            webhook=WebhookEndpoint.objects.get(),
            body="x",
            dedupe_key="loop",
            now=T0,
        )
        relay.outbox_flush(now=T0)
        looping = Notification.objects.get(dedupe_key="loop")
        assert looping.status == Status.DEAD
        assert "redirects" in looping.last_error
        assert len(http.requests) == 2 + urlsafety.MAX_REDIRECTS + 1


@pytest.mark.django_db
def test_a_row_claimed_by_one_relay_is_not_claimed_by_another(settings):
    """Two relays interleaving claim and send: the conditional UPDATE gives every row to exactly one."""
    for n in range(10):
        slack_row(f"r{n}")
    _token_a, first = relay.outbox_claim(now=T0, limit=6)
    _token_b, second = relay.outbox_claim(now=T0, limit=6)
    assert len(first) == 6
    assert len(second) == 4
    assert not {row.pk for row in first} & {row.pk for row in second}
    assert relay.outbox_claim(now=T0, limit=6)[1] == []
    # A relay that read its candidates just before another relay claimed them gets none of them.
    relay.outbox_release_expired(now=T0 + timedelta(days=1))
    late = relay.claim_candidates(now=T0 + timedelta(days=1), limit=10)
    _, taken = relay.outbox_claim(now=T0 + timedelta(days=1), limit=10)
    assert len(late) == len(taken) == 10
    assert relay.claim_take(late, now=T0 + timedelta(days=1), token="late") == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_relays_flushing_at_once_send_each_row_once(http, settings):
    if connections["default"].vendor == "sqlite":
        pytest.skip("SQLite's shared in-memory test database locks tables across threads; run on PostgreSQL")
    settings.NOTIFY_ALLOW_PRIVATE_URLS = True
    settings.NOTIFY_RELAY_BATCH = 5  # many small claims, so the two relays interleave
    endpoint = WebhookEndpoint.objects.create(name="ops", url=f"{http.url}/hook")
    for n in range(60):
        notifications.queue(
            channel=Channel.WEBHOOK,
            kind=Kind.BREACHED,
            recipient="ops",
            webhook=endpoint,
            body="x",
            payload={"n": n},
            dedupe_key=f"w{n}",
            now=T0,
        )
    barrier, results, errors = threading.Barrier(2), [], []

    def flush() -> None:
        try:
            barrier.wait()
            results.append(relay.outbox_flush(now=T0 + timedelta(seconds=1)))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=flush) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    received = Counter(request.json()["n"] for request in http.requests)
    assert received == Counter(range(60))  # every row once, none twice
    assert sum(result.sent for result in results) == 60
    assert Notification.objects.filter(status=Status.SENT).count() == 60


@pytest.mark.django_db
def test_a_storm_of_2000_breaches_is_batched_per_slack_channel_and_nothing_is_lost(slack, settings, customer):
    settings.NOTIFY_SLACK_MIN_INTERVAL_SECONDS = 0.02  # Slack's 1/s, scaled down; the count of posts is what matters
    storm_at = T0 + timedelta(hours=1)  # Monday 10:00 London: business hours, nothing held
    tickets = Ticket.objects.bulk_create(
        Ticket(
            subject=f"Storm {n}",
            description="d",
            priority="P0" if n % 2 else "P3",
            requester=customer,
            created_at=T0,
            updated_at=T0,
        )
        for n in range(2000)
    )
    breaches = SlaBreach.objects.bulk_create(
        SlaBreach(ticket=t, kind="first_response", due_at=T0, breached_at=storm_at, tier=1, priority=t.priority)
        for t in tickets
    )
    started = time.monotonic()
    with transaction.atomic():
        for breach in breaches:
            notifications.on_breached(breach=breach, now=storm_at)
    queued_in = time.monotonic() - started
    assert Notification.objects.filter(channel=Channel.SLACK).count() == 2000

    started = time.monotonic()
    result = relay.outbox_flush(now=storm_at + timedelta(seconds=5))
    sent_in = time.monotonic() - started
    print(f"storm: queued 2000 breaches in {queued_in:.2f} s, delivered in {sent_in:.2f} s, {result}")
    assert result.sent == 2000
    posts = Counter(request.path for request in slack.requests)
    per_channel = math.ceil(1000 / settings.NOTIFY_SLACK_DIGEST_MAX)
    assert posts == {"/services/T0/B0/critical": per_channel, "/services/T0/B0/general": per_channel}
    text = "\n".join(request.json()["text"] for request in slack.requests)
    assert all(ticket.reference in text for ticket in tickets)  # every breach in some digest
    interval = settings.NOTIFY_SLACK_MIN_INTERVAL_SECONDS
    for path in posts:  # paced by the per-channel slot: the whole run cannot be faster than the interval allows
        times = [request.at for request in slack.requests if request.path == path]
        assert times[-1] - times[0] >= (len(times) - 1) * interval * 0.9
    # At Slack's real 1 message/s per channel, one worker posting both channels' 40 digests takes ~40 s: under 5 min.
    assert 2 * per_channel * 1.0 < 5 * 60
    assert not Notification.objects.exclude(status=Status.SENT).filter(channel=Channel.SLACK).exists()


@pytest.mark.django_db
def test_unconfigured_channels_are_reported_when_a_worker_starts(caplog):
    with caplog.at_level(logging.WARNING, logger="notifications.tasks"):
        tasks.report_unconfigured_channels()
    assert "Twilio credentials are not set" in caplog.text
    assert "Slack #support-critical: no incoming-webhook URL" in caplog.text
