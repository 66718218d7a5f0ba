"""Who hears about what: routing as data, templates in a sandbox, quiet hours, dedupe, SSRF on save."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client

from escalation.models import Escalation, EscalationRule, SlaBreach
from notifications import messages, relay, selectors, tasks, urlsafety
from notifications import services as notifications
from notifications.models import (
    AlertRoute,
    CommunicationTemplate,
    Notification,
    Responder,
    SlackChannel,
    WebhookEndpoint,
)
from support import usecases
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets.models import Ticket

Channel, Kind, Status = Notification.Channel, Notification.Kind, Notification.Status
SATURDAY_10_LONDON = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)  # GMT: London time equals UTC in early March
MONDAY_09_LONDON = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def agent(email: str, tier: int = 1, *, phone: str = "", on_call: bool = False):
    user = make_user(email, "agent", tier=tier)
    if phone or on_call:
        Responder.objects.create(user=user, phone_number=phone, on_call=on_call)
    return user


def rows(**filters) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(**filters).values_list("channel", "recipient"))


@pytest.mark.django_db
class TestSeededConfiguration:
    def test_routes_follow_the_procedures_document(self):
        routes = {route.priority: route for route in AlertRoute.objects.select_related("slack_channel")}
        assert routes["P0"].channels == ["phone", "sms", "slack", "email"]
        assert routes["P1"].channels == ["slack", "email"]
        assert routes["P2"].channels == ["email", "dashboard"]
        assert routes["P3"].channels == ["dashboard"]
        assert {p: r.slack_channel and r.slack_channel.name for p, r in routes.items()} == {
            "P0": "#support-critical",
            "P1": "#support-critical",
            "P2": "#support-general",
            "P3": "#support-general",
        }
        assert [p for p, r in routes.items() if r.quiet_hours] == ["P2", "P3"]
        assert SlackChannel.objects.filter(name="#launch-monitoring").exists()

    def test_the_incident_declaration_starts_with_the_real_siren(self):
        declaration = CommunicationTemplate.objects.get(key="incident_declaration")
        assert declaration.body_text.startswith("\U0001f6a8 INCIDENT DECLARED - {{ priority }}")
        assert "ð" not in declaration.body_text

    def test_seeded_templates_are_valid_and_use_named_placeholders(self):
        for template in CommunicationTemplate.objects.all():
            template.full_clean()
            assert "[" not in template.body_text

    def test_managers_may_edit_routing_and_agents_may_not(self, manager, agent):
        for model in ("alertroute", "slackchannel", "responder", "webhookendpoint", "communicationtemplate"):
            assert manager.has_perm(f"notifications.change_{model}")
            assert manager.has_perm(f"notifications.add_{model}")
            assert not agent.has_perm(f"notifications.view_{model}")
        assert agent.has_perm("notifications.view_dashboarditem")


@pytest.mark.django_db
class TestRouting:
    def test_a_new_p0_pages_the_on_call_agents_of_its_tier_on_every_channel(self, customer):
        on_call = agent("oncall@sofacoverpro.com", phone="+447700900123", on_call=True)
        agent("resting@sofacoverpro.com", phone="+447700900456")
        ticket = TicketFactory(requester=customer, priority="P0", subject="Site down")
        assert rows(ticket=ticket, kind=Kind.TICKET_CREATED) == sorted(
            [
                ("dashboard", on_call.email),
                ("email", on_call.email),
                ("phone", "+447700900123"),
                ("sms", "+447700900123"),
                ("slack", "#support-critical"),
            ]
        )
        assert rows(ticket=ticket, kind=Kind.ACKNOWLEDGMENT) == [("email", customer.email)]

    def test_nobody_on_call_falls_back_to_the_whole_tier(self, customer):
        first, second = agent("a1@sofacoverpro.com"), agent("a2@sofacoverpro.com")
        agent("t2@sofacoverpro.com", tier=2)
        ticket = TicketFactory(requester=customer, priority="P1")
        assert rows(ticket=ticket, kind=Kind.TICKET_CREATED) == sorted(
            [
                ("dashboard", first.email),
                ("dashboard", second.email),
                ("email", first.email),
                ("email", second.email),
                ("slack", "#support-critical"),
            ]
        )

    def test_a_new_p2_or_p3_alerts_nobody_but_the_customer_hears(self, customer, agent):
        ticket = TicketFactory(requester=customer, priority="P3")
        assert rows(ticket=ticket) == [("email", customer.email)]

    def test_a_p3_escalation_reaches_the_target_tier_on_the_dashboard_only(self, customer, agent, tier2_agent):
        ticket = TicketFactory(requester=customer, priority="P3", created_at=T0)
        usecases.escalate(ticket=ticket, actor=agent, reason="technical_complexity", now=T0)
        assert rows(ticket=ticket, kind=Kind.ESCALATED) == [("dashboard", tier2_agent.email)]
        item = Notification.objects.get(kind=Kind.ESCALATED)
        assert (item.status, item.sent_at) == (Status.SENT, T0)  # business hours: visible at once

    def test_the_management_rule_reaches_managers_too(self, customer, agent, manager):
        ticket = TicketFactory(requester=customer, priority="P1", created_at=T0)
        rule = EscalationRule.objects.get(name="P1 unresolved after 4 h to management")
        usecases.sla_sweep(now=T0 + timedelta(hours=4))
        assert Escalation.objects.filter(ticket=ticket, rule=rule, to_management=True).exists()
        emails = rows(ticket=ticket, kind=Kind.ESCALATED, channel=Channel.EMAIL)
        assert ("email", manager.email) in emails

    def test_a_breach_goes_to_the_assignee_and_the_prioritys_slack_channel(self, customer, agent):
        other = make_user("other@sofacoverpro.com", "agent", tier=1)
        ticket = TicketFactory(requester=customer, priority="P2", assignee=agent)
        breach = SlaBreach.objects.create(
            ticket=ticket, kind="first_response", due_at=T0, breached_at=T0, tier=1, priority="P2"
        )
        notifications.on_breached(breach=breach, now=T0 + timedelta(hours=4))
        got = rows(ticket=ticket, kind=Kind.BREACHED)
        assert got == sorted([("email", agent.email), ("dashboard", agent.email), ("slack", "#support-general")])
        assert other.email not in {recipient for _, recipient in got}

    def test_a_warning_without_assignee_goes_to_the_tier(self, customer, agent):
        ticket = TicketFactory(requester=customer, priority="P1")
        written = notifications.on_breach_warning(ticket=ticket, kind="resolution", due_at=T0, now=T0)
        assert written == 3
        assert rows(ticket=ticket, kind=Kind.BREACH_WARNING) == sorted(
            [("dashboard", agent.email), ("email", agent.email), ("slack", "#support-critical")]
        )

    def test_routing_is_data_a_manager_can_change(self, customer, agent):
        AlertRoute.objects.filter(priority="P1").update(slack=False, sms=True)
        Responder.objects.create(user=agent, phone_number="+447700900123")
        ticket = TicketFactory(requester=customer, priority="P1")
        assert rows(ticket=ticket, kind=Kind.TICKET_CREATED) == sorted(
            [("dashboard", agent.email), ("email", agent.email), ("sms", "+447700900123")]
        )

    def test_active_webhooks_receive_alerts_when_the_route_says_so(self, customer, agent, settings):
        settings.NOTIFY_ALLOW_PRIVATE_URLS = True
        AlertRoute.objects.filter(priority="P1").update(webhook=True)
        hook = WebhookEndpoint.objects.create(name="ops", url="http://127.0.0.1:9/hook")
        WebhookEndpoint.objects.create(name="off", url="http://127.0.0.1:9/off", active=False)
        ticket = TicketFactory(requester=customer, priority="P1")
        row = Notification.objects.get(ticket=ticket, channel=Channel.WEBHOOK)
        assert (row.webhook, row.payload["ticket"], row.payload["event"]) == (hook, ticket.reference, "ticket_created")


@pytest.mark.django_db
class TestDedupe:
    def test_queueing_the_same_escalation_twice_writes_each_row_once(self, customer, agent, tier2_agent):
        ticket = TicketFactory(requester=customer, priority="P2", created_at=T0)
        escalation = usecases.escalate(ticket=ticket, actor=agent, reason="technical_complexity", now=T0)
        before = Notification.objects.count()
        notifications.on_escalated(escalation=escalation, now=T0)
        notifications.on_escalated(escalation=escalation, now=T0 + timedelta(minutes=1))
        assert Notification.objects.count() == before
        assert Notification.objects.filter(kind=Kind.ESCALATED).count() == 2  # email + dashboard for tier 2

    def test_a_warning_for_the_same_deadline_is_written_once(self, customer, agent):
        ticket = TicketFactory(requester=customer, priority="P1")
        assert notifications.on_breach_warning(ticket=ticket, kind="resolution", due_at=T0, now=T0) == 3
        assert notifications.on_breach_warning(ticket=ticket, kind="resolution", due_at=T0, now=T0) == 0

    def test_a_rolled_back_change_leaves_no_row(self, customer, agent):
        ticket = TicketFactory(requester=customer, priority="P1")
        before = Notification.objects.count()

        def change_then_crash() -> None:
            with transaction.atomic():
                notifications.on_breach_warning(ticket=ticket, kind="resolution", due_at=T0, now=T0)
                raise RuntimeError("crash before commit")

        with pytest.raises(RuntimeError):
            change_then_crash()
        assert Notification.objects.count() == before


@pytest.mark.django_db
class TestQuietHours:
    def test_a_p3_alert_on_saturday_is_held_until_monday_morning(self, customer, agent, tier2_agent):
        ticket = TicketFactory(requester=customer, priority="P3", created_at=SATURDAY_10_LONDON)
        usecases.escalate(ticket=ticket, actor=agent, reason="technical_complexity", now=SATURDAY_10_LONDON)
        held = Notification.objects.get(kind=Kind.ESCALATED)
        assert (held.channel, held.status, held.hold_until) == (Channel.DASHBOARD, Status.HELD, MONDAY_09_LONDON)
        assert list(selectors.dashboard_feed_for(user=tier2_agent)) == []

        relay.outbox_flush(now=MONDAY_09_LONDON - timedelta(seconds=1))
        held.refresh_from_db()
        assert held.status == Status.HELD

        relay.outbox_flush(now=MONDAY_09_LONDON)
        held.refresh_from_db()
        assert held.status == Status.SENT
        assert list(selectors.dashboard_feed_for(user=tier2_agent)) == [held]

    def test_the_customers_acknowledgment_is_never_held(self, customer):
        TicketFactory(requester=customer, priority="P3", created_at=SATURDAY_10_LONDON)
        ack = Notification.objects.get(kind=Kind.ACKNOWLEDGMENT)
        assert (ack.status, ack.hold_until, ack.next_attempt_at) == (Status.PENDING, None, SATURDAY_10_LONDON)

    def test_a_p0_alert_on_saturday_goes_out_at_once(self, customer):
        agent("oncall@sofacoverpro.com", phone="+447700900123", on_call=True)
        TicketFactory(requester=customer, priority="P0", created_at=SATURDAY_10_LONDON)
        alerts = Notification.objects.filter(kind=Kind.TICKET_CREATED).exclude(channel=Channel.DASHBOARD)
        assert alerts.count() == 4
        assert set(alerts.values_list("status", "next_attempt_at")) == {(Status.PENDING, SATURDAY_10_LONDON)}
        item = Notification.objects.get(kind=Kind.TICKET_CREATED, channel=Channel.DASHBOARD)
        assert (item.status, item.sent_at) == (Status.SENT, SATURDAY_10_LONDON)  # on the dashboard at once

    def test_the_p2_slack_post_is_not_held_only_the_people(self, customer, agent):
        ticket = TicketFactory(requester=customer, priority="P2", created_at=SATURDAY_10_LONDON)
        breach = SlaBreach.objects.create(
            ticket=ticket, kind="first_response", due_at=T0, breached_at=T0, tier=1, priority="P2"
        )
        notifications.on_breached(breach=breach, now=SATURDAY_10_LONDON)
        statuses = dict(Notification.objects.filter(kind=Kind.BREACHED).values_list("channel", "status"))
        assert statuses == {"slack": Status.PENDING, "email": Status.HELD, "dashboard": Status.HELD}


@pytest.mark.django_db
class TestTemplates:
    def _template(self, **changes) -> CommunicationTemplate:
        template = CommunicationTemplate.objects.get(key="acknowledgment")
        for name, value in changes.items():
            setattr(template, name, value)
        return template

    @pytest.mark.parametrize(
        "source",
        [
            "Hello {{ customer_nam }}",
            "{{ ticket.requester.password }}",
            "{{ customer_name.password }}",
            "{% load static %}{% static 'x' %}",
            "{% debug %}",
            "{% if customer_name %}x{% endif %}",
            "{% include 'admin/base.html' %}",
            "{{ customer_name|safe }}",
            "{{ customer_name|default:ticket_reference }}",
            "{{ 'literal' }}",
        ],
    )
    def test_anything_but_known_placeholders_is_refused_on_save(self, source):
        with pytest.raises(ValidationError):
            self._template(body_text=source).full_clean()

    def test_an_unknown_placeholder_in_the_subject_names_the_placeholder(self):
        with pytest.raises(ValidationError) as caught:
            self._template(subject="About {{ order_number }}").full_clean()
        assert "order_number" in str(caught.value.message_dict["subject"])

    def test_known_placeholders_and_harmless_filters_are_accepted(self):
        self._template(body_text="Dear {{ customer_name|upper }}, {{ ticket_reference }}").full_clean()

    def test_every_context_fills_exactly_its_placeholders(self, customer):
        ticket = TicketFactory(requester=customer, priority="P1")
        for key, build in messages.CONTEXTS.items():
            context = build(ticket, now=T0)
            assert set(context) == messages.PLACEHOLDERS[key]
            assert all(isinstance(value, str) and value for value in context.values()), key

    def test_templates_are_read_once_and_an_edit_applies_at_once(self, customer, django_assert_num_queries):
        ticket = TicketFactory(requester=customer, priority="P2")
        messages.render_for_ticket("acknowledgment", ticket, now=T0)
        with django_assert_num_queries(0):
            messages.render_for_ticket("acknowledgment", ticket, now=T0)
        template = CommunicationTemplate.objects.get(key="acknowledgment")
        template.subject = "Ticket {{ ticket_reference }} received"
        template.save()
        rendered = messages.render_for_ticket("acknowledgment", ticket, now=T0)
        assert rendered.subject == f"Ticket {ticket.reference} received"

    def test_the_acknowledgment_mail_is_rendered_from_the_stored_template(self, customer):
        template = CommunicationTemplate.objects.get(key="ticket_acknowledgment")
        template.body_text = template.body_text.replace("Best regards", "Kind regards")
        template.save()
        ticket = TicketFactory(requester=customer, priority="P0", category="payment", subject="Card declined")
        ack = Notification.objects.get(kind=Kind.ACKNOWLEDGMENT)
        # The ticket's own acknowledgment (not the incident bulletin), the reference in the subject.
        assert ack.subject == f"[{ticket.reference}] We have received your request: Card declined"
        assert "Dear Alice," in ack.body
        assert f"is logged as {ticket.reference} (priority P0)" in ack.body
        # The first response the SLA promises: P0, 15 minutes from 09:00.
        assert "first response by Mon 2 Mar 2026, 09:15 GMT (within 15 minutes)" in ack.body
        assert "resolve it by Mon 2 Mar 2026, 11:00 GMT" in ack.body  # P0: resolution in 2 h
        assert f"/tickets/{ticket.reference}/" in ack.body
        assert "Kind regards" in ack.body
        assert ack.body_html.startswith("<p>")
        assert ticket.subject in ack.body_html

    def test_the_resolution_notice_says_what_the_agent_wrote_when_resolving(self, customer, agent):
        ticket = TicketFactory(requester=customer, priority="P2")
        usecases.reply(ticket=ticket, author=agent, body="We re-sent the cover.", now=T0)
        usecases.resolve(
            ticket=ticket, actor=agent, now=T0 + timedelta(hours=1), resolution_note="A new cover is on its way."
        )
        notice = Notification.objects.get(kind=Kind.RESOLUTION, dedupe_key__startswith="resolved:")
        assert notice.subject == f"[{ticket.reference}] Resolved: {ticket.subject}"
        assert "Resolution: A new cover is on its way." in notice.body
        assert "re-sent" not in notice.body  # not the last reply
        assert "was resolved on Mon 2 Mar 2026, 10:00 GMT" in notice.body

    def test_a_requester_marking_it_solved_gets_a_notice_without_a_note(self, customer):
        ticket = TicketFactory(requester=customer, priority="P1")
        usecases.resolve(ticket=ticket, actor=customer, now=T0 + timedelta(hours=1))
        notice = Notification.objects.get(kind=Kind.RESOLUTION, dedupe_key__startswith="resolved:")
        assert "Resolution: Our support team has resolved your request." in notice.body

    def test_customer_controlled_values_are_escaped_in_html_not_in_text(self):
        customer = make_user("mallory@example.com", "customer", first_name="<script>alert(1)</script>")
        TicketFactory(requester=customer, subject='<img src=x onerror="steal()"> & O\'Brien')
        ack = Notification.objects.get(kind=Kind.ACKNOWLEDGMENT)
        assert "<script>" not in ack.body_html
        assert "&lt;script&gt;" in ack.body_html
        assert "<img" not in ack.body_html
        assert "&lt;img" in ack.body_html
        assert "Dear <script>alert(1)</script>," in ack.body  # text/plain: shown as typed
        assert "O'Brien" in ack.body

    def test_a_safe_string_in_the_context_is_escaped_anyway(self):
        from django.utils.safestring import mark_safe

        template = CommunicationTemplate.objects.get(key="acknowledgment")
        context = dict.fromkeys(messages.PLACEHOLDERS["acknowledgment"], "x")
        context["customer_name"] = mark_safe("<b>bold</b>")
        assert "&lt;b&gt;" in messages.render(template, context).html

    def test_the_admin_refuses_an_unknown_placeholder_and_previews_a_valid_one(self, manager, customer):
        TicketFactory(requester=customer, priority="P1")
        template = CommunicationTemplate.objects.get(key="acknowledgment")
        client = Client()
        client.force_login(manager)
        url = f"/admin/notifications/communicationtemplate/{template.pk}/change/"
        form = {"subject": template.subject, "body_text": "Dear {{ ticket.requester.password }}", "body_html": ""}
        response = client.post(url, form)
        assert response.status_code == 200
        assert "unknown placeholder" in response.content.decode()
        template.refresh_from_db()
        assert "password" not in template.body_text
        page = client.get(url).content.decode()
        assert "Dear Alice," in page  # the preview, rendered against the latest ticket

    def test_agents_cannot_open_the_template_admin(self, agent):
        client = Client()
        client.force_login(agent)
        assert client.get("/admin/notifications/communicationtemplate/").status_code == 403


@pytest.mark.django_db
class TestDestinationsOnSave:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:6379/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://10.0.0.5/hook",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "file:///etc/passwd",
            "http://user:pw@hooks.example.com/",
        ],
    )
    def test_private_loopback_link_local_and_odd_urls_are_refused(self, url):
        with pytest.raises(ValidationError):
            SlackChannel(name="#x", webhook_url=url).full_clean()
        with pytest.raises(ValidationError):
            WebhookEndpoint(name="x", url=url).full_clean()

    def test_a_public_name_that_resolves_to_a_private_address_is_refused(self, monkeypatch):
        monkeypatch.setattr(urlsafety.socket, "getaddrinfo", fake_dns({"hooks.example.com": "10.0.0.5"}))
        with pytest.raises(ValidationError) as caught:
            SlackChannel(name="#x", webhook_url="https://hooks.example.com/services/T/B/C").full_clean()
        assert "10.0.0.5" in str(caught.value)

    def test_a_public_address_is_accepted(self, monkeypatch):
        monkeypatch.setattr(urlsafety.socket, "getaddrinfo", fake_dns({"hooks.slack.com": "34.226.36.52"}))
        SlackChannel(name="#x", webhook_url="https://hooks.slack.com/services/T/B/C").full_clean()

    def test_loopback_is_allowed_only_when_the_settings_say_so(self, settings):
        settings.NOTIFY_ALLOW_PRIVATE_URLS = True
        WebhookEndpoint(name="x", url="http://127.0.0.1:8080/hook").full_clean()

    def test_the_admin_form_shows_the_refusal(self, manager):
        client = Client()
        client.force_login(manager)
        channel = SlackChannel.objects.get(name="#support-critical")
        response = client.post(
            f"/admin/notifications/slackchannel/{channel.pk}/change/",
            {"name": channel.name, "purpose": "", "webhook_url": "http://169.254.169.254/"},
        )
        assert response.status_code == 200
        assert "This destination is refused" in response.content.decode()
        channel.refresh_from_db()
        assert channel.webhook_url == ""


def fake_dns(table: dict[str, str]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            family = socket.AF_INET6 if ":" in table[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (table[host], port))]
        return real(host, port, *args, **kwargs)

    return getaddrinfo


@pytest.mark.django_db
class TestKick:
    def test_one_publish_per_commit_and_a_broker_failure_never_reaches_the_request(
        self, settings, customer, monkeypatch, django_capture_on_commit_callbacks
    ):
        settings.NOTIFY_KICK_ON_COMMIT = True
        monkeypatch.setattr(tasks, "_broker_down_until", 0.0)
        calls = []

        def broker_down(*args, **kwargs):
            calls.append(kwargs)
            raise ConnectionRefusedError("redis is down")

        monkeypatch.setattr(tasks.deliver_outbox, "apply_async", broker_down)
        agent("a1@sofacoverpro.com")
        agent("a2@sofacoverpro.com")
        with django_capture_on_commit_callbacks(execute=True):
            ticket = Ticket.objects.get(pk=TicketFactory(requester=customer, priority="P1").pk)
        assert len(calls) == 1
        assert calls[0]["retry"] is False
        assert Notification.objects.filter(ticket=ticket, status=Status.PENDING).count() == 4

    def test_kicks_coalesce_until_the_flush_starts(self, settings, customer, monkeypatch):
        """A burst of commits publishes one kick; the flush clears the flag before reading, so the next commit kicks."""
        monkeypatch.setattr(tasks, "_broker_down_until", 0.0)
        published = []
        monkeypatch.setattr(tasks.deliver_outbox, "apply_async", lambda **kw: published.append(kw))
        for _ in range(5):
            tasks.kick_relay()
        assert len(published) == 1
        seen_by_flush = []
        monkeypatch.setattr(
            relay, "outbox_flush", lambda now: seen_by_flush.append(tasks.cache.get(tasks.KICK_PENDING))
        )
        tasks.deliver_outbox()
        assert seen_by_flush == [None]  # the flag was cleared before the flush read the outbox
        tasks.kick_relay()
        assert len(published) == 2

    def test_a_failed_publish_does_not_mute_the_next_kicks(self, settings, customer, monkeypatch):
        published = []

        def flaky(**kwargs):
            published.append(kwargs)
            if len(published) == 1:
                raise ConnectionRefusedError("redis is down")

        monkeypatch.setattr(tasks.deliver_outbox, "apply_async", flaky)
        monkeypatch.setattr(tasks, "_broker_down_until", 0.0)
        tasks.kick_relay()
        monkeypatch.setattr(tasks, "_broker_down_until", 0.0)  # the back-off has passed
        tasks.kick_relay()
        assert len(published) == 2

    def test_after_a_broker_failure_the_next_requests_do_not_wait_for_it(self, settings, customer, monkeypatch):
        monkeypatch.setattr(tasks, "_broker_down_until", 0.0)
        calls = []

        def broker_down(**kw):
            calls.append(kw)
            raise ZeroDivisionError("the broker is down")

        monkeypatch.setattr(tasks.deliver_outbox, "apply_async", broker_down)
        tasks.kick_relay()
        tasks.kick_relay()
        assert len(calls) == 1


@pytest.mark.django_db
def test_dashboard_items_can_be_marked_read(customer, agent, tier2_agent):
    ticket = TicketFactory(requester=customer, priority="P3", created_at=T0)
    usecases.escalate(ticket=ticket, actor=agent, reason="technical_complexity", now=T0)
    item = selectors.dashboard_feed_for(user=tier2_agent).get()
    assert notifications.dashboard_mark_read(user=agent, ids=[item.pk], now=T0) == 0  # not theirs
    assert notifications.dashboard_mark_read(user=tier2_agent, ids=[item.pk], now=T0) == 1
    client = Client()
    client.force_login(tier2_agent)
    page = client.get("/admin/notifications/dashboarditem/").content.decode()
    assert f"{ticket.reference}" in page
    client.force_login(agent)
    assert f"{ticket.reference}" not in client.get("/admin/notifications/dashboarditem/").content.decode()
