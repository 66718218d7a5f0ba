"""The SLA engine in the agent console: configuration, its preview, history, the queue and the ticket page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from escalation import admin as sla_admin
from escalation import admin_queue, selectors
from escalation.models import (
    BusinessCalendar,
    Escalation,
    EscalationRule,
    Holiday,
    OpeningHours,
    SlaBreach,
    SlaPause,
    SlaPolicy,
    SweepRun,
    TierTarget,
)
from support import usecases
from tests import admin_forms
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
Priority = Ticket.Priority
Status = Ticket.Status
State = selectors.SlaState

CHANGELIST = reverse("admin:tickets_ticket_changelist")
# Same budget as the console's own queue (tests/tickets/test_admin.py): the SLA columns and filter add no query.
CHANGELIST_MAX_QUERIES = 7
SLA_CONFIG = ("businesscalendar", "slapolicy", "tiertarget", "escalationrule")
HISTORY = ("escalation", "slabreach", "slapause", "sweeprun")


@pytest.fixture(autouse=True)
def _fresh_policy_book():
    """The book is cached per process: no test sees another's policies."""
    selectors.policy_book_forget()
    yield
    selectors.policy_book_forget()


def url(model: str, action: str, *args) -> str:
    return reverse(f"admin:escalation_{model}_{action}", args=args)


def flashed(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


# The add form of a rule moving P2 tickets to Tier 2 after an hour, as a manager posts it.
P2_RULE_FORM = {
    "name": "P2 to Tier 2 after 1 h",
    "priority": "P2",
    "condition": "not_resolved",
    "after_minutes": "60",
    "action": "move_to_tier",
    "to_tier": "2",
    "active": "on",
    "_save": "Save",
}


def first_of(model: str) -> int:
    models = {
        "businesscalendar": BusinessCalendar,
        "slapolicy": SlaPolicy,
        "tiertarget": TierTarget,
        "escalationrule": EscalationRule,
    }
    first = models[model]._default_manager.order_by("pk").first()
    assert first is not None
    return first.pk


def _put(data: dict, name: str, value) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        if value:
            data[name] = "on"
        return
    if isinstance(value, list | tuple):
        data[name] = [str(v) for v in value]
        return
    data[name] = str(value)


def change_form_data(response) -> dict:
    """What the browser would post back unchanged: the form and every inline formset, as rendered."""
    return admin_forms.change_form_data(response, _put)


def preview_form_data(preview) -> dict:
    """What "Apply and recompute open tickets" posts: the hidden inputs of the preview page."""
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', preview.content.decode())
    return {name: unescape(value) for name, value in pairs}


def open_p2_on_24x7() -> SlaPolicy:
    """P2 on the 24x7 calendar, so deadlines are wall-clock arithmetic."""
    policy = SlaPolicy.objects.get(priority=Priority.P2)
    policy.calendar = BusinessCalendar.objects.get(name="24x7")
    policy.save()
    selectors.policy_book_forget()
    return policy


# --- SLA configuration: who may do what ---------------------------------------------


class TestSlaConfigPermissions:
    @pytest.mark.parametrize("model", SLA_CONFIG)
    def test_a_tier_1_agent_may_view_the_list_and_the_page(self, client, agent, model):
        client.force_login(agent)

        listing = client.get(url(model, "changelist"))
        page = client.get(url(model, "change", first_of(model)))

        assert listing.status_code == 200
        assert page.status_code == 200
        assert page.context["has_change_permission"] is False
        assert 'name="_save"' not in page.content.decode()

    @pytest.mark.parametrize("model", SLA_CONFIG)
    def test_a_tier_1_agent_gets_403_on_change_add_and_delete(self, client, agent, manager, model):
        client.force_login(manager)
        data = change_form_data(client.get(url(model, "change", first_of(model))))
        client.force_login(agent)

        assert client.post(url(model, "change", first_of(model)), data).status_code == 403
        assert client.get(url(model, "add")).status_code == 403
        assert client.post(url(model, "add"), data).status_code == 403
        assert client.post(url(model, "delete", first_of(model)), {"post": "yes"}).status_code == 403

    @pytest.mark.parametrize("model", SLA_CONFIG)
    def test_a_tier_2_agent_is_view_only_too(self, client, tier2_agent, manager, model):
        client.force_login(manager)
        data = change_form_data(client.get(url(model, "change", first_of(model))))
        client.force_login(tier2_agent)

        assert client.get(url(model, "change", first_of(model))).status_code == 200
        assert client.post(url(model, "change", first_of(model)), data).status_code == 403

    @pytest.mark.parametrize("model", SLA_CONFIG)
    def test_a_customer_is_sent_to_the_admin_login(self, client, customer, model):
        client.force_login(customer)

        response = client.get(url(model, "changelist"))

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))

    @pytest.mark.parametrize("role", ["manager", "admin_user"])
    def test_managers_and_admins_change_a_tier_target(self, client, request, role):
        target = TierTarget.objects.get(tier=2, priority=Priority.P0)
        client.force_login(request.getfixturevalue(role))
        data = change_form_data(client.get(url("tiertarget", "change", target.pk)))
        data["response_minutes"] = "45"

        response = client.post(url("tiertarget", "change", target.pk), data)

        assert response.status_code == 302
        target.refresh_from_db()
        assert target.response_minutes == 45

    def test_a_manager_adds_and_changes_an_escalation_rule(self, client, manager):
        client.force_login(manager)

        added = client.post(
            url("escalationrule", "add"),
            {
                "name": "P1 to Tier 3 after 6 h",
                "priority": "P1",
                "condition": "not_resolved",
                "after_minutes": "360",
                "action": "move_to_tier",
                "to_tier": "3",
                "active": "on",
                "_save": "Save",
            },
        )
        rule = EscalationRule.objects.get(name="P1 to Tier 3 after 6 h")
        data = change_form_data(client.get(url("escalationrule", "change", rule.pk)))
        data["after_minutes"] = "300"
        changed = client.post(url("escalationrule", "change", rule.pk), data)

        assert added.status_code == 302
        assert changed.status_code == 302
        rule.refresh_from_db()
        assert rule.after_minutes == 300

    def test_a_rule_moving_to_no_tier_is_a_form_error(self, client, manager):
        client.force_login(manager)

        response = client.post(
            url("escalationrule", "add"),
            {
                "name": "Broken",
                "priority": "P1",
                "condition": "not_resolved",
                "after_minutes": "60",
                "action": "move_to_tier",
                "to_tier": "",
                "_save": "Save",
            },
        )

        assert response.status_code == 200
        assert "Say which tier the ticket moves to." in response.content.decode()
        assert not EscalationRule.objects.filter(name="Broken").exists()

    @pytest.mark.parametrize("model", ["tiertarget", "escalationrule"])
    def test_saving_forgets_the_cached_policy_book(self, client, manager, model, monkeypatch):
        forgotten = []
        monkeypatch.setattr(selectors, "policy_book_forget", lambda: forgotten.append(True))
        client.force_login(manager)
        data = change_form_data(client.get(url(model, "change", first_of(model))))

        client.post(url(model, "change", first_of(model)), data)

        assert forgotten

    def test_a_new_rule_is_used_by_the_next_refresh_without_waiting_for_the_cache(self, client, manager):
        book = selectors.policy_book()  # cached now
        assert all(rule.name != "P2 to Tier 2 after 1 h" for rule in book.rules.get("P2", ()))
        client.force_login(manager)

        client.post(url("escalationrule", "add"), P2_RULE_FORM)

        assert "P2 to Tier 2 after 1 h" in [rule.name for rule in selectors.policy_book().rules["P2"]]

    def test_a_new_rule_reschedules_the_sweeps_next_look_at_open_tickets(self, client, manager, time_machine):
        ticket = TicketFactory(priority=Priority.P2)  # business hours: next look is the 75 % warning, 12:00
        assert ticket.sla_next_check_at == T0 + timedelta(hours=3)
        time_machine.move_to(T0 + timedelta(minutes=10), tick=False)
        client.force_login(manager)

        client.post(url("escalationrule", "add"), P2_RULE_FORM)

        ticket.refresh_from_db()
        assert ticket.sla_next_check_at == T0 + timedelta(hours=1)


# --- calendars: inlines and the preview ---------------------------------------------


class TestCalendarInlines:
    def test_the_page_shows_hours_and_holidays_inlines(self, client, manager):
        business = BusinessCalendar.objects.get(name="Business hours")
        client.force_login(manager)

        response = client.get(url("businesscalendar", "change", business.pk))

        prefixes = [inline.formset.prefix for inline in response.context["inline_admin_formsets"]]
        assert prefixes == ["hours", "holidays"]
        assert response.context["inline_admin_formsets"][0].formset.initial_form_count() == 5

    def test_a_manager_adds_a_holiday_and_saturday_hours_after_the_preview(self, client, manager):
        business = BusinessCalendar.objects.get(name="Business hours")
        client.force_login(manager)
        data = change_form_data(client.get(url("businesscalendar", "change", business.pk)))
        data.update(
            {
                "hours-TOTAL_FORMS": "6",
                "hours-5-weekday": "5",
                "hours-5-opens": "10:00",
                "hours-5-closes": "14:00",
                "hours-5-calendar": str(business.pk),
                "holidays-TOTAL_FORMS": "1",
                "holidays-0-date": "2026-12-25",
                "holidays-0-name": "Christmas Day",
                "holidays-0-calendar": str(business.pk),
            }
        )

        preview = client.post(url("businesscalendar", "change", business.pk), data)
        assert preview.status_code == 200
        assert preview.templates[0].name == "admin/escalation/recompute_preview.html"
        assert not Holiday.objects.exists()

        applied = client.post(url("businesscalendar", "change", business.pk), preview_form_data(preview))

        assert applied.status_code == 302
        assert Holiday.objects.get().date == date(2026, 12, 25)
        assert OpeningHours.objects.filter(calendar=business, weekday=5, opens=time(10), closes=time(14)).exists()
        entry = selectors.policy_book().entry("P2")
        assert entry is not None
        assert entry.calendar.hours[5] == ((time(10), time(14)),)

    def test_closing_before_opening_is_an_inline_error_and_nothing_is_saved(self, client, manager):
        business = BusinessCalendar.objects.get(name="Business hours")
        client.force_login(manager)
        data = change_form_data(client.get(url("businesscalendar", "change", business.pk)))
        data["hours-0-closes"] = "08:00"

        response = client.post(url("businesscalendar", "change", business.pk), data)

        assert response.status_code == 200
        assert response.templates[0].name != "admin/escalation/recompute_preview.html"
        assert "Closing time must be after opening time" in response.content.decode()
        assert OpeningHours.objects.get(calendar=business, weekday=0).closes == time(18)

    def test_renaming_a_calendar_moves_nothing_and_saves_without_preview(self, client, manager):
        business = BusinessCalendar.objects.get(name="Business hours")
        client.force_login(manager)
        data = change_form_data(client.get(url("businesscalendar", "change", business.pk)))
        data["name"] = "Office hours"

        response = client.post(url("businesscalendar", "change", business.pk), data)

        assert response.status_code == 302
        assert BusinessCalendar.objects.filter(name="Office hours").exists()

    def test_a_tier_1_agent_cannot_change_hours(self, client, agent, manager):
        business = BusinessCalendar.objects.get(name="Business hours")
        client.force_login(manager)
        data = change_form_data(client.get(url("businesscalendar", "change", business.pk)))
        data["hours-0-opens"] = "07:00"
        client.force_login(agent)

        response = client.post(url("businesscalendar", "change", business.pk), data)

        assert response.status_code == 403
        assert OpeningHours.objects.get(calendar=business, weekday=0).opens == time(9)


class TestRecomputePreview:
    """3 open P2 tickets on 24x7; P2 first response 4 -> 2 hours: each moves by -2 h, once applied."""

    def _tickets(self) -> list[Ticket]:
        open_p2_on_24x7()
        tickets = [TicketFactory(priority=Priority.P2, created_at=T0 + timedelta(minutes=n)) for n in range(3)]
        TicketFactory(priority=Priority.P2, status=Status.CLOSED)  # not open: never moves
        TicketFactory(priority=Priority.P3)  # another priority: never moves
        return tickets

    def _post_change(self, client, **changes):
        policy = SlaPolicy.objects.get(priority=Priority.P2)
        data = change_form_data(client.get(url("slapolicy", "change", policy.pk)))
        data.update(changes)
        return client.post(url("slapolicy", "change", policy.pk), data)

    def test_the_preview_counts_the_tickets_and_the_shift_and_changes_nothing(self, client, manager, time_machine):
        tickets = self._tickets()
        p3 = Ticket.objects.get(priority=Priority.P3)
        time_machine.move_to(T0 + timedelta(minutes=30), tick=False)
        client.force_login(manager)

        response = self._post_change(client, first_response_target="2")

        assert response.status_code == 200
        assert response.context["moved_count"] == 3
        summary = {item["label"]: item for item in response.context["summary"]}
        assert summary["First response"]["shifts"] == [("-2 h", 3)]
        assert summary["Resolution"]["count"] == 0
        html = response.content.decode()
        assert "<strong>3</strong> open tickets would move." in html
        assert '3 tickets by <span class="console-shift">-2 h</span>' in html
        for ticket in tickets:
            assert ticket.reference in html
        assert p3.reference not in html
        assert "Apply and recompute open tickets" in html
        assert f'href="{url("slapolicy", "change", SlaPolicy.objects.get(priority="P2").pk)}"' in html
        # Nothing changed: not the policy, not the tickets, not the cached book.
        assert SlaPolicy.objects.get(priority=Priority.P2).first_response_target == 4
        for ticket in tickets:
            ticket.refresh_from_db()
            assert ticket.first_response_due_at == ticket.created_at + timedelta(hours=4)
        entry = selectors.policy_book().entry("P2")
        assert entry is not None
        assert entry.targets.first_response == timedelta(hours=4)

    def test_applying_saves_the_policy_and_moves_the_open_tickets(self, client, manager, time_machine):
        tickets = self._tickets()
        p3 = Ticket.objects.get(priority=Priority.P3)
        p3_due = p3.first_response_due_at
        closed = Ticket.objects.get(status=Status.CLOSED)
        time_machine.move_to(T0 + timedelta(minutes=30), tick=False)
        client.force_login(manager)
        preview = self._post_change(client, first_response_target="2")

        policy = SlaPolicy.objects.get(priority="P2")
        response = client.post(url("slapolicy", "change", policy.pk), preview_form_data(preview))

        assert response.status_code == 302
        assert SlaPolicy.objects.get(priority=Priority.P2).first_response_target == 2
        for ticket in tickets:
            ticket.refresh_from_db()
            assert ticket.first_response_due_at == ticket.created_at + timedelta(hours=2)
            assert ticket.first_response_warn_at == ticket.created_at + timedelta(minutes=90)
        p3.refresh_from_db()
        assert p3.first_response_due_at == p3_due
        assert Ticket.objects.get(pk=closed.pk).first_response_due_at == closed.first_response_due_at
        assert ("success", "Recomputed the open P2 tickets: 3 tickets moved.") in flashed(response)

    def test_applying_with_an_invalid_value_is_a_form_error_and_moves_nothing(self, client, manager):
        tickets = self._tickets()
        client.force_login(manager)
        policy = SlaPolicy.objects.get(priority=Priority.P2)
        data = change_form_data(client.get(url("slapolicy", "change", policy.pk)))
        data.update({"first_response_target": "0", sla_admin.APPLY_FIELD: "1"})

        response = client.post(url("slapolicy", "change", policy.pk), data)

        assert response.status_code == 200
        assert response.context["adminform"].form.errors
        tickets[0].refresh_from_db()
        assert tickets[0].first_response_due_at == tickets[0].created_at + timedelta(hours=4)

    def test_changing_only_the_target_share_saves_without_preview(self, client, manager):
        self._tickets()
        client.force_login(manager)

        response = self._post_change(client, response_target_share="0.850")

        assert response.status_code == 302
        assert str(SlaPolicy.objects.get(priority="P2").response_target_share) == "0.850"

    def test_a_holiday_on_the_business_calendar_moves_resolution_by_a_day(self, client, manager):
        # P2 on business hours (Mon-Fri 09:00-18:00 London, GMT in March): filed Mon 2 Mar 12:00,
        # 1 business day -> Tue 12:00; with Tue 3 Mar a holiday -> Wed 12:00. First response (16:00) stays.
        tickets = [TicketFactory(priority=Priority.P2, created_at=T0 + timedelta(hours=3)) for _ in range(2)]
        assert tickets[0].resolution_due_at == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
        business = BusinessCalendar.objects.get(name="Business hours")
        client.force_login(manager)
        data = change_form_data(client.get(url("businesscalendar", "change", business.pk)))
        data.update(
            {
                "holidays-TOTAL_FORMS": "1",
                "holidays-0-date": "2026-03-03",
                "holidays-0-name": "Company day",
                "holidays-0-calendar": str(business.pk),
            }
        )

        preview = client.post(url("businesscalendar", "change", business.pk), data)

        assert preview.context["moved_count"] == 2
        assert preview.context["priorities"] == ["P2", "P3"]
        summary = {item["label"]: item for item in preview.context["summary"]}
        assert summary["Resolution"]["shifts"] == [("+1 d", 2)]
        assert summary["First response"]["count"] == 0
        assert not Holiday.objects.exists()

        client.post(url("businesscalendar", "change", business.pk), preview_form_data(preview))

        for ticket in tickets:
            ticket.refresh_from_db()
            assert ticket.resolution_due_at == datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
            assert ticket.first_response_due_at == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)

    def test_a_tier_1_agent_gets_403_not_a_preview(self, client, agent, manager):
        self._tickets()
        client.force_login(manager)
        policy = SlaPolicy.objects.get(priority=Priority.P2)
        data = change_form_data(client.get(url("slapolicy", "change", policy.pk)))
        data["first_response_target"] = "2"
        client.force_login(agent)

        assert client.post(url("slapolicy", "change", policy.pk), data).status_code == 403
        data[sla_admin.APPLY_FIELD] = "1"
        assert client.post(url("slapolicy", "change", policy.pk), data).status_code == 403
        assert SlaPolicy.objects.get(priority="P2").first_response_target == 4


class TestDurationLabel:
    @pytest.mark.parametrize(
        ("value", "signed", "expected"),
        [
            (timedelta(hours=-2), True, "-2 h"),
            (timedelta(days=1), True, "+1 d"),
            (timedelta(hours=2, minutes=5), False, "2 h 5 min"),
            (timedelta(days=1, hours=3, minutes=20), False, "1 d 3 h"),
            (timedelta(minutes=-35), False, "-35 min"),
            (timedelta(seconds=30), False, "0 min"),
        ],
    )
    def test_formats_two_units_at_most(self, value, signed, expected):
        assert admin_queue.duration_label(value, signed=signed) == expected


# --- history: read-only -------------------------------------------------------------


class TestHistoryAdmins:
    @pytest.fixture
    def history(self, tier2_agent):
        ticket = TicketFactory(priority=Priority.P0)
        usecases.sla_sweep(now=T0 + timedelta(minutes=40))  # breach + P0 rule to Tier 2
        usecases.change_status(ticket=ticket, to=Status.PENDING_CUSTOMER, actor=tier2_agent, now=T0)
        return {
            "escalation": Escalation.objects.get().pk,
            "slabreach": SlaBreach.objects.order_by("pk")[0].pk,
            "slapause": SlaPause.objects.get().pk,
            "sweeprun": SweepRun.objects.get().pk,
        }

    @pytest.mark.parametrize("model", HISTORY)
    def test_managers_read_but_nobody_adds_changes_or_deletes(self, client, manager, admin_user, history, model):
        for user in (manager, admin_user):
            client.force_login(user)
            assert client.get(url(model, "changelist")).status_code == 200
            page = client.get(url(model, "change", history[model]))
            assert page.status_code == 200
            assert page.context["has_change_permission"] is False
            assert client.get(url(model, "add")).status_code == 403
            assert client.post(url(model, "change", history[model]), {}).status_code == 403
            assert client.post(url(model, "delete", history[model]), {"post": "yes"}).status_code == 403

    @pytest.mark.parametrize(("model", "status"), [("escalation", 200), ("slabreach", 200), ("slapause", 403)])
    def test_agents_read_escalations_and_breaches(self, client, agent, history, model, status):
        client.force_login(agent)

        assert client.get(url(model, "changelist")).status_code == status

    def test_rows_survive_a_delete_attempt(self, client, admin_user, history):
        client.force_login(admin_user)

        client.post(
            url("escalation", "changelist"), {"action": "delete_selected", "_selected_action": [history["escalation"]]}
        )

        assert Escalation.objects.filter(pk=history["escalation"]).exists()


# --- the queue: time left, colours, filter, sort ------------------------------------


def results(response) -> list[Ticket]:
    return list(response.context["cl"].result_list)


def column_index(response, name: str) -> int:
    names = [getattr(column, "__name__", column) for column in response.context["cl"].list_display]
    return names.index(name)


class TestQueueColumns:
    @pytest.mark.parametrize(
        ("minutes", "css", "text"),
        [
            (5, "console-sla-on-track", "10 min"),
            (11, "console-sla-on-track", "4 min"),
            (12, "console-sla-at-risk", "3 min"),  # 75 % of 15 min ran at 11:15
            (15, "console-sla-breached", "0 min"),  # due at 09:15: breached at the exact moment
            (20, "console-sla-breached", "-5 min"),
        ],
    )
    def test_response_due_shows_time_left_with_the_state_colour(self, client, agent, time_machine, minutes, css, text):
        TicketFactory(priority=Priority.P0)
        time_machine.move_to(T0 + timedelta(minutes=minutes), tick=False)
        client.force_login(agent)

        html = client.get(CHANGELIST).content.decode()

        assert 'class="column-response_due"' in html or 'class="sortable column-response_due' in html
        assert "column-resolution_due" in html
        assert f'<span class="console-sla {css}" title="' in html
        assert f'">{text}</span></td>' in html
        assert "escalation/sla.css" in html

    def test_a_responded_ticket_shows_met_and_a_late_one_met_late(self, client, agent, time_machine):
        on_time, late = TicketFactory(priority=Priority.P0), TicketFactory(priority=Priority.P0)
        usecases.reply(ticket=on_time, author=agent, body="On it", now=T0 + timedelta(minutes=5))
        usecases.reply(ticket=late, author=agent, body="Sorry", now=T0 + timedelta(minutes=20))
        time_machine.move_to(T0 + timedelta(minutes=30), tick=False)
        client.force_login(agent)

        html = client.get(CHANGELIST).content.decode()

        assert '<span class="console-sla console-sla-met" title="met; due' in html
        assert 'title="breached; due Mon 2 Mar 2026, 09:15">met late</span>' in html

    def test_a_ticket_waiting_on_the_customer_shows_paused(self, client, agent, time_machine):
        ticket = TicketFactory(priority=Priority.P2)
        usecases.change_status(ticket=ticket, to=Status.PENDING_CUSTOMER, actor=agent, now=T0 + timedelta(minutes=5))
        time_machine.move_to(T0 + timedelta(hours=6), tick=False)
        client.force_login(agent)

        html = client.get(CHANGELIST).content.decode()

        assert html.count('<span class="console-sla console-sla-paused" title="paused">paused</span>') == 2


def build_sla_world(agent) -> dict[str, Ticket]:
    """One ticket per state at NOW (Mon 2 Mar 2026 12:30 London = UTC)."""
    open_p2 = TicketFactory(priority=Priority.P2)  # respond by 13:00, warn 12:00: at risk
    p3 = TicketFactory(priority=Priority.P3)  # 1 business day, respond by 18:00: on track
    p0_breached = TicketFactory(priority=Priority.P0)  # respond by 09:15: breached
    p0_late = TicketFactory(priority=Priority.P0)
    usecases.reply(ticket=p0_late, author=agent, body="late", now=T0 + timedelta(minutes=20))
    p1_fresh = TicketFactory(priority=Priority.P1, created_at=T0 + timedelta(hours=3, minutes=5))  # due 13:05
    # Response met at 11:05; resolution 2 h from 11:00 -> due 13:00, warn 12:30 == NOW: at risk.
    p0_res_risk = TicketFactory(priority=Priority.P0, created_at=T0 + timedelta(hours=2))
    usecases.reply(ticket=p0_res_risk, author=agent, body="hi", now=T0 + timedelta(hours=2, minutes=5))
    waiting = TicketFactory(priority=Priority.P2)
    usecases.reply(ticket=waiting, author=agent, body="photo?", now=T0 + timedelta(hours=1))
    usecases.change_status(ticket=waiting, to=Status.PENDING_CUSTOMER, actor=agent, now=T0 + timedelta(hours=1))
    resolved = TicketFactory(priority=Priority.P2)
    usecases.reply(ticket=resolved, author=agent, body="done", now=T0 + timedelta(minutes=30))
    usecases.resolve(ticket=resolved, actor=agent, now=T0 + timedelta(hours=1))
    return {
        "open_p2": open_p2,
        "p3": p3,
        "p0_breached": p0_breached,
        "p0_late": p0_late,
        "p1_fresh": p1_fresh,
        "p0_res_risk": p0_res_risk,
        "waiting": waiting,
        "resolved": resolved,
    }


NOW = T0 + timedelta(hours=3, minutes=30)


class TestSlaFilter:
    EXPECTED = {
        State.AT_RISK: {"open_p2", "p0_res_risk"},
        State.BREACHED: {"p0_breached", "p0_late"},
        State.ON_TRACK: {"p3", "p1_fresh"},
        State.PAUSED: {"waiting"},
    }

    def test_is_offered_with_its_four_states(self, client, agent):
        client.force_login(agent)

        response = client.get(CHANGELIST)

        spec = next(s for s in response.context["cl"].filter_specs if s.title == "SLA")
        assert [value for value, _ in spec.lookup_choices] == ["at_risk", "breached", "on_track", "paused"]

    @pytest.mark.parametrize("state", [State.AT_RISK, State.BREACHED, State.ON_TRACK, State.PAUSED])
    def test_each_state_lists_exactly_its_tickets(self, client, agent, time_machine, state):
        world = build_sla_world(agent)
        time_machine.move_to(NOW, tick=False)
        client.force_login(agent)

        response = client.get(CHANGELIST, {"sla": state})

        names = {name for name, ticket in world.items() if ticket in results(response)}
        assert names == self.EXPECTED[state]

    def test_agrees_with_sla_state_for_every_ticket(self, agent, time_machine):
        build_sla_world(agent)
        conditions = admin_queue.sla_filter_conditions(NOW)
        tickets = list(Ticket.objects.all())

        for state, condition in conditions.items():
            from_db = set(Ticket.objects.filter(condition).values_list("pk", flat=True))
            from_python = {t.pk for t in tickets if admin_queue.overall_state(selectors.sla_state(t, now=NOW)) == state}
            assert from_db == from_python, state

    def test_uses_one_now_per_request_and_no_python_loop(
        self, client, agent, time_machine, django_assert_max_num_queries
    ):
        build_sla_world(agent)
        time_machine.move_to(NOW, tick=False)
        client.force_login(agent)

        with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES):
            response = client.get(CHANGELIST, {"sla": State.AT_RISK})

        assert response.status_code == 200
        assert "first_response_warn_at" in str(response.context["cl"].queryset.query)


class TestSort:
    def test_sorts_by_response_due_running_first_and_back(self, client, agent, time_machine):
        world = build_sla_world(agent)
        time_machine.move_to(NOW, tick=False)
        client.force_login(agent)
        column = column_index(client.get(CHANGELIST), "response_due")

        ascending = results(client.get(CHANGELIST, {"o": str(column)}))
        descending = results(client.get(CHANGELIST, {"o": f"-{column}"}))

        running = [world[name] for name in ("p0_breached", "open_p2", "p1_fresh", "p3")]
        assert ascending[:4] == running  # 09:15, 13:00, 13:05, 18:00
        assert set(ascending[4:]) == {world[n] for n in ("p0_late", "p0_res_risk", "waiting", "resolved")}
        assert descending[-4:] == running[::-1]

    def test_sorts_by_resolution_due(self, client, agent, time_machine):
        world = build_sla_world(agent)
        time_machine.move_to(NOW, tick=False)
        client.force_login(agent)
        column = column_index(client.get(CHANGELIST), "resolution_due")

        ascending = results(client.get(CHANGELIST, {"o": str(column)}))

        # P0s 2 h: 11:00, 11:00, 13:00; P2 1 business day: 18:00; P1 8 h: 20:05; P3 5 business days: Fri 18:00.
        assert set(ascending[:2]) == {world["p0_breached"], world["p0_late"]}
        assert ascending[2:6] == [world["p0_res_risk"], world["open_p2"], world["p1_fresh"], world["p3"]]
        assert set(ascending[6:]) == {world["waiting"], world["resolved"]}


class TestQueueQueryCount:
    @pytest.mark.parametrize("count", [5, 60])
    @pytest.mark.parametrize("params", [{}, {"sla": "at_risk"}, {"sla": "breached", "o": "5"}])
    def test_does_not_grow_with_the_tickets(
        self, client, agent, tier2_agent, time_machine, django_assert_max_num_queries, count, params
    ):
        for n in range(count):
            TicketFactory(
                priority=list(Priority)[n % 4],
                assignee=(agent, tier2_agent, None)[n % 3],
                created_at=T0 + timedelta(minutes=n),
            )
        time_machine.move_to(T0 + timedelta(hours=2), tick=False)
        client.force_login(agent)

        with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES):
            response = client.get(CHANGELIST, params)

        assert response.status_code == 200
        assert results(response) or params


# --- escalation from the console ----------------------------------------------------


class TestEscalateAction:
    def run(self, client, tickets):
        return client.post(
            CHANGELIST,
            {"action": "escalate_next_tier", "_selected_action": [str(t.pk) for t in tickets]},
            follow=True,
        )

    def test_is_offered_with_its_label(self, client, agent):
        TicketFactory()
        client.force_login(agent)

        assert "Escalate to next tier (management from Tier 3)" in client.get(CHANGELIST).content.decode()

    def test_moves_each_ticket_up_a_tier_and_records_why_and_who(self, client, agent):
        first, second = TicketFactory(), TicketFactory()
        client.force_login(agent)

        response = self.run(client, [first, second])

        for ticket in (first, second):
            ticket.refresh_from_db()
            assert ticket.tier == 2
        rows = list(Escalation.objects.order_by("ticket_id"))
        assert [(e.reason, e.from_tier, e.to_tier, e.actor) for e in rows] == [
            ("technical_complexity", 1, 2, agent),
            ("technical_complexity", 1, 2, agent),
        ]
        assert (
            "success",
            f"Escalated 2 tickets: {first.reference} → Tier 2, {second.reference} → Tier 2.",
        ) in flashed(response)

    def test_reports_refusals_and_escalates_the_rest(self, client, agent):
        active, closed = TicketFactory(), TicketFactory(status=Status.CLOSED)
        client.force_login(agent)

        response = self.run(client, [active, closed])

        assert Escalation.objects.get().ticket == active
        assert ("warning", f"Refused {closed.reference}: Only open tickets can be escalated.") in flashed(response)

    def test_from_tier_3_goes_to_management(self, client):
        tier3 = make_user("tier3@sofacoverpro.com", "agent", tier=3)
        ticket = TicketFactory()
        ticket_services.ticket_move_to_tier(ticket=ticket, tier=3, actor=None, now=T0)
        client.force_login(tier3)

        self.run(client, [ticket])

        escalation = Escalation.objects.get()
        assert (escalation.from_tier, escalation.to_tier, escalation.to_management) == (3, 3, True)

    def test_refuses_tickets_above_the_agents_tier_and_escalates_the_rest(self, client, agent):
        mine = TicketFactory()
        above = ticket_services.ticket_move_to_tier(ticket=TicketFactory(), tier=2, actor=None, now=T0)
        client.force_login(agent)

        response = self.run(client, [mine, above])

        assert Escalation.objects.get().ticket == mine
        warnings = [text for level, text in flashed(response) if level == "warning"]
        assert warnings == [f"Refused {above.reference}: {ticket_services.outside_scope_message(above)}"]


def escalate_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_escalate", args=[ticket.pk])


def change_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


class TestEscalateForm:
    def test_the_ticket_page_offers_the_agents_reasons_only(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)

        html = client.get(change_url(ticket)).content.decode()

        assert f'action="{escalate_url(ticket)}"' in html
        assert 'value="technical_complexity"' in html
        assert 'value="resource_constraints"' in html
        assert 'value="customer_request"' not in html
        assert "Moves the ticket to Tier 2" in html

    def test_escalates_with_reason_and_note(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)

        response = client.post(escalate_url(ticket), {"reason": "resource_constraints", "note": "Tier 1 is short"})

        assert response.status_code == 302
        assert response["Location"] == change_url(ticket) + "#sla"
        escalation = Escalation.objects.get()
        assert (escalation.reason, escalation.note, escalation.actor, escalation.to_tier) == (
            "resource_constraints",
            "Tier 1 is short",
            agent,
            2,
        )
        assert ("success", f"Escalated {ticket.reference} to Tier 2.") in flashed(response)

    def test_a_second_click_or_a_stale_page_escalates_once(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)
        page = client.get(change_url(ticket)).content.decode()
        assert re.search(r'<input type="hidden" name="from_tier" value="1"', page)
        form = {"reason": "technical_complexity", "from_tier": "1"}

        client.post(escalate_url(ticket), form)
        again = client.post(escalate_url(ticket), form)  # the same page, submitted twice

        assert Escalation.objects.filter(ticket=ticket).count() == 1
        ticket.refresh_from_db()
        assert ticket.tier == 2
        errors = [text for level, text in flashed(again) if level == "error"]
        assert len(errors) == 1
        assert "Tier 2 now, not Tier 1" in errors[0]

    def test_refuses_the_customers_reason(self, client, agent):
        ticket = TicketFactory()
        client.force_login(agent)

        response = client.post(escalate_url(ticket), {"reason": "customer_request"})

        assert response.status_code == 302
        assert not Escalation.objects.exists()
        assert flashed(response)[0][0] == "error"

    def test_a_closed_ticket_is_refused_with_a_message_and_shows_no_form(self, client, agent):
        ticket = TicketFactory(status=Status.CLOSED)
        client.force_login(agent)

        response = client.post(escalate_url(ticket), {"reason": "technical_complexity"})

        assert response.status_code == 302
        assert flashed(response) == [("error", "Only open tickets can be escalated.")]
        assert escalate_url(ticket) not in client.get(change_url(ticket)).content.decode()

    def test_refuses_get(self, client, agent):
        client.force_login(agent)

        assert client.get(escalate_url(TicketFactory())).status_code == 405

    def test_requires_the_csrf_token(self, agent):
        ticket = TicketFactory()
        client = Client(enforce_csrf_checks=True)
        client.force_login(agent)

        response = client.post(escalate_url(ticket), {"reason": "technical_complexity"})

        assert response.status_code == 403
        assert not Escalation.objects.exists()

    def test_a_customer_is_sent_to_the_admin_login(self, client, customer):
        ticket = TicketFactory(requester=customer)
        client.force_login(customer)

        response = client.post(escalate_url(ticket), {"reason": "technical_complexity"})

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
        assert not Escalation.objects.exists()

    def test_a_staff_user_without_work_permission_gets_403(self, client):
        from django.contrib.auth.models import User

        staff = User.objects.create_user("intern@sofacoverpro.com", password="x", is_staff=True)
        client.force_login(staff)

        assert client.post(escalate_url(TicketFactory()), {"reason": "technical_complexity"}).status_code == 403


# --- the deadline explanation on the ticket page ------------------------------------


class TestSlaPanel:
    def test_explains_a_paused_deadline_with_its_segment(self, client, agent, customer, time_machine):
        # P2, business hours: filed Mon 09:00; replied 10:00 and waiting on the customer until 11:00.
        # Resolution: 1 business day (Mon 09:00-18:00) + the 1 h pause -> Tue 3 Mar 10:00.
        ticket = TicketFactory(requester=customer, priority=Priority.P2)
        usecases.reply(ticket=ticket, author=agent, body="photo?", now=T0 + timedelta(hours=1))
        usecases.change_status(ticket=ticket, to=Status.PENDING_CUSTOMER, actor=agent, now=T0 + timedelta(hours=1))
        usecases.reply(ticket=ticket, author=customer, body="here", now=T0 + timedelta(hours=2))
        time_machine.move_to(T0 + timedelta(hours=3), tick=False)
        client.force_login(agent)

        response = client.get(change_url(ticket))

        html = response.content.decode()
        assert 'id="sla"' in html
        assert "P2 Medium: respond 4 hours, resolve 1 business day" in html
        assert "Business hours" in html
        assert "Mon 09:00-18:00" in html
        explained = admin_queue.sla_explanation(Ticket.objects.get(pk=ticket.pk), now=T0 + timedelta(hours=3))
        rows = {row["label"]: row for row in explained["deadlines"]}
        assert rows["Resolution"]["due"] == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
        assert rows["Resolution"]["target"] == "1 business day"
        assert rows["Resolution"]["paused_for"] == "1 h"
        assert rows["Resolution"]["state"] == State.ON_TRACK
        assert rows["First response"]["state"] == State.MET
        assert "Tue 3 Mar 2026, 10:00" in html
        assert "Waiting on the customer" in html
        assert "2 Mar 2026, 10:00" in html
        assert "2 Mar 2026, 11:00" in html

    def test_lists_breaches_and_escalations_with_rule_actor_and_note(self, client, agent, tier2_agent, time_machine):
        ticket = TicketFactory(priority=Priority.P0)
        usecases.sla_sweep(now=T0 + timedelta(minutes=40))
        usecases.escalate(
            ticket=ticket,
            actor=tier2_agent,
            reason="technical_complexity",
            note="Needs DB access",
            now=T0 + timedelta(hours=1),
        )
        time_machine.move_to(T0 + timedelta(hours=1, minutes=5), tick=False)
        client.force_login(agent)

        html = client.get(change_url(ticket)).content.decode()

        assert "First response</td>" in html  # the breach
        assert "Automatic (rule): P0 to Tier 2 after 30 min" in html
        assert "Tier 1 → Tier 2" in html
        assert "Tier 2 → Tier 3" in html
        assert "Technical complexity" in html
        assert "Needs DB access" in html
        assert "Tier 3 response" in html
        assert html.count('class="console-sla console-sla-breached"') >= 1

    def test_a_tier_response_nearly_due_is_at_risk(self, agent):
        # P0 moved to Tier 2 at 09:30: 30 min tier target -> warn 09:52:30, due 10:00.
        # (In the tier a ticket was filed in, the first-response clock covers the same time.)
        ticket = TicketFactory(priority=Priority.P0)
        ticket = usecases.change(ticket=ticket, tier=2, actor=agent, now=T0 + timedelta(minutes=30))
        ticket.refresh_from_db()

        explained = admin_queue.sla_explanation(ticket, now=T0 + timedelta(minutes=55))
        rows = {row["label"]: row for row in explained["deadlines"]}

        assert rows["Tier 2 response"]["due"] == T0 + timedelta(minutes=60)
        assert rows["Tier 2 response"]["state"] == State.AT_RISK
        assert rows["Next update"]["state"] == State.NOT_APPLICABLE


def test_queue_moments_are_shown_in_the_desks_zone():
    assert admin_queue.moment_label(None) == "—"
    assert admin_queue.moment_label(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) == "Mon 2 Mar 2026, 09:00"
    assert admin_queue.moment_label(datetime(2026, 7, 1, 9, 5, tzinfo=UTC)) == "Wed 1 Jul 2026, 10:05"  # summer time
