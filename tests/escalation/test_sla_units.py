"""Policy targets with their units: days and weeks are business days on a business-hours calendar.

P3's "1 week" used to run as 168 business hours (about 19 working days). The
targets now name their unit; filing, the console, the API and the data
migration for tickets already open all follow it.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from escalation import selectors, sla
from escalation.models import SlaPolicy
from notifications.models import Notification
from reports import rollup
from reports.models import TicketFact
from support import usecases
from tests.escalation.test_admin import change_form_data, flashed, preview_form_data, url
from tickets.models import Ticket

LONDON = ZoneInfo("Europe/London")
H = timedelta(hours=1)


def london(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


FRIDAY_1730 = london(2026, 3, 6, 17, 30)


def file(customer, priority: str, at: datetime) -> Ticket:
    ticket = usecases.file_ticket(
        requester=customer, subject=f"{priority} sofa cover", description="d", priority=priority, now=at
    )
    ticket.refresh_from_db()
    return ticket


@pytest.mark.django_db
class TestSeededPolicies:
    def test_each_target_names_its_unit(self):
        rows = {
            p.priority: (p.first_response_target, p.first_response_unit, p.resolution_target, p.resolution_unit)
            for p in SlaPolicy.objects.all()
        }
        assert rows == {
            "P0": (15, "minutes", 2, "hours"),
            "P1": (1, "hours", 8, "hours"),
            "P2": (4, "hours", 1, "business_days"),
            "P3": (1, "business_days", 5, "business_days"),
        }
        updates = {p.priority: (p.update_target, p.update_unit) for p in SlaPolicy.objects.filter(update_target__gt=0)}
        assert updates == {"P0": (30, "minutes"), "P1": (2, "hours")}

    def test_a_policy_reads_as_people_write_it(self):
        assert str(SlaPolicy.objects.get(priority="P3")) == "P3 Low: respond 1 business day, resolve 5 business days"
        assert str(SlaPolicy.objects.get(priority="P0")) == "P0 Critical: respond 15 minutes, resolve 2 hours"


@pytest.mark.django_db
class TestFilingOnBusinessHours:
    def test_a_p3_filed_friday_1730_is_due_monday_1730_and_the_next_friday_1730(self, customer):
        ticket = file(customer, "P3", FRIDAY_1730)
        assert ticket.first_response_due_at == london(2026, 3, 9, 17, 30)
        assert ticket.resolution_due_at == london(2026, 3, 13, 17, 30)

    def test_a_p2_filed_friday_1730_is_due_monday_1230_and_monday_1730(self, customer):
        ticket = file(customer, "P2", FRIDAY_1730)
        assert ticket.first_response_due_at == london(2026, 3, 9, 12, 30)
        assert ticket.resolution_due_at == london(2026, 3, 9, 17, 30)

    def test_the_warnings_come_at_three_quarters_of_the_business_days(self, customer):
        ticket = file(customer, "P3", FRIDAY_1730)
        # 0.75 of a 9-hour day after Friday 17:30: Monday 15:15; 3.75 days: Thursday 15:15.
        assert ticket.first_response_warn_at == london(2026, 3, 9, 15, 15)
        assert ticket.resolution_warn_at == london(2026, 3, 12, 15, 15)
        assert ticket.sla_next_check_at == ticket.first_response_warn_at

    def test_the_acknowledgment_of_a_p3_filed_on_saturday_5_december_promises_friday_not_new_years_eve(self, customer):
        ticket = file(customer, "P3", london(2026, 12, 5, 11, 0))
        ack = Notification.objects.get(ticket=ticket, kind=Notification.Kind.ACKNOWLEDGMENT)
        assert "resolve it by Fri 11 Dec 2026, 18:00 GMT" in ack.body

    def test_a_tier_target_still_runs_in_minutes_from_entering_the_tier(self, customer, agent):
        ticket = file(customer, "P1", datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        usecases.change(ticket=ticket, actor=agent, now=ticket.created_at + H, tier=2)
        ticket.refresh_from_db()
        assert ticket.tier_response_due_at == ticket.created_at + 3 * H  # Tier 2, P1: 2 h


@pytest.mark.django_db
class TestPolicyValidation:
    def test_a_day_in_hours_on_a_business_calendar_is_refused(self):
        policy = SlaPolicy.objects.get(priority="P3")
        policy.resolution_target, policy.resolution_unit = 24, SlaPolicy.Unit.HOURS
        with pytest.raises(ValidationError) as error:
            policy.full_clean()
        assert "business days" in str(error.value.message_dict["resolution_unit"])

    def test_a_day_in_hours_on_a_24x7_calendar_is_24_hours(self):
        policy = SlaPolicy.objects.get(priority="P1")
        policy.resolution_target, policy.resolution_unit = 48, SlaPolicy.Unit.HOURS
        policy.full_clean()
        assert policy.resolution == 48 * H

    def test_an_unknown_unit_is_refused_by_the_form_and_the_database(self):
        policy = SlaPolicy.objects.get(priority="P3")
        policy.resolution_unit = "weeks"
        with pytest.raises(ValidationError):
            policy.full_clean()


@pytest.mark.django_db
class TestConsoleEditsTheUnits:
    def _post(self, client, **changes):
        policy = SlaPolicy.objects.get(priority="P3")
        data = change_form_data(client.get(url("slapolicy", "change", policy.pk)))
        data.update(changes)
        return client.post(url("slapolicy", "change", policy.pk), data)

    def test_a_manager_sets_two_weeks_in_business_days_and_the_open_tickets_follow(
        self, client, manager, customer, time_machine
    ):
        ticket = file(customer, "P3", FRIDAY_1730)
        time_machine.move_to(FRIDAY_1730 + H, tick=False)
        client.force_login(manager)

        preview = self._post(client, resolution_target="10")
        assert preview.context["moved_count"] == 1
        applied = client.post(
            url("slapolicy", "change", SlaPolicy.objects.get(priority="P3").pk), preview_form_data(preview)
        )

        assert applied.status_code == 302
        assert ("success", "Recomputed the open P3 tickets: 1 ticket moved.") in flashed(applied)
        ticket.refresh_from_db()
        assert ticket.resolution_due_at == london(2026, 3, 20, 17, 30)
        assert "10 business days" in client.get(url("slapolicy", "changelist")).content.decode()

    def test_24_hours_on_the_business_calendar_is_a_form_error(self, client, manager):
        client.force_login(manager)

        response = self._post(client, first_response_target="24", first_response_unit="hours")

        assert response.status_code == 200
        assert "business days" in str(response.context["adminform"].form.errors["first_response_unit"])
        assert SlaPolicy.objects.get(priority="P3").first_response_unit == "business_days"


@pytest.mark.django_db
class TestApi:
    def test_the_policies_show_each_target_with_its_unit(self, api_client_for, customer):
        response = api_client_for(customer).get("/api/v1/sla/policies/")

        assert response.status_code == 200
        p3 = {row["priority"]: row for row in response.json()}["P3"]
        assert p3["first_response"] == {"value": 1, "unit": "business_days"}
        assert p3["resolution"] == {"value": 5, "unit": "business_days"}
        assert p3["update"] is None
        assert p3["calendar"] == {"name": "Business hours", "time_zone": "Europe/London", "always_open": False}

    def test_anonymous_visitors_are_told_to_sign_in(self, api_client_for):
        assert api_client_for(None).get("/api/v1/sla/policies/").status_code == 401


# --- the data migration: open tickets filed under the old rule ----------------------------------------


def _this_migration(executor: MigrationExecutor) -> tuple[tuple[str, str], tuple[str, str]]:
    """(this migration, the escalation migration before it), whatever number the merge gives it."""
    (key,) = [k for k in executor.loader.graph.nodes if k[0] == "escalation" and k[1].endswith("_target_units")]
    (parent,) = [p for p in executor.loader.graph.node_map[key].parents if p.key[0] == "escalation"]
    return key, parent.key


def _as_filed_under_minutes(ticket: Ticket, resolution_minutes: int, response_minutes: int) -> None:
    """Store what the old rule (targets as business minutes) computed for this ticket."""
    entry = selectors.policy_book().entry(ticket.priority)
    assert entry is not None
    business = entry.calendar
    response = timedelta(minutes=response_minutes)
    resolution = timedelta(minutes=resolution_minutes)
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_due_at=sla.add(business, ticket.created_at, response),
        resolution_due_at=sla.add(business, ticket.created_at, resolution),
        first_response_warn_at=sla.add(business, ticket.created_at, response * 3 / 4),
        resolution_warn_at=sla.add(business, ticket.created_at, resolution * 3 / 4),
        sla_next_check_at=sla.add(business, ticket.created_at, response * 3 / 4),
    )
    rollup.facts_refresh(ticket_ids=[ticket.pk])


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestDataMigration:
    def test_open_tickets_get_the_corrected_deadlines_and_the_reports_follow_at_the_next_sweep(
        self, customer, agent, time_machine
    ):
        saturday = london(2026, 12, 5, 11, 0)
        open_p3 = file(customer, "P3", saturday)
        closed = file(customer, "P3", saturday)
        usecases.change_status(ticket=closed, to=Ticket.Status.CLOSED, actor=agent, now=saturday + H)
        critical = file(customer, "P0", saturday)
        for ticket in (open_p3, closed):
            _as_filed_under_minutes(ticket, resolution_minutes=7 * 24 * 60, response_minutes=24 * 60)
        closed_before = Ticket.objects.values("resolution_due_at", "sla_next_check_at").get(pk=closed.pk)
        critical_before = Ticket.objects.values().get(pk=critical.pk)
        assert TicketFact.objects.get(ticket=open_p3).resolution_due_at == london(2026, 12, 31, 15, 0)

        executor = MigrationExecutor(connection)
        this, before = _this_migration(executor)
        deployed_at = london(2026, 12, 8, 10, 0)
        try:
            executor.migrate([before])
            old = executor.loader.project_state([before]).apps.get_model("escalation", "SlaPolicy")
            assert old.objects.get(priority="P3").resolution_minutes == 7 * 24 * 60
            assert old.objects.get(priority="P2").resolution_minutes == 24 * 60
            time_machine.move_to(deployed_at, tick=False)
            executor = MigrationExecutor(connection)
            executor.migrate([this])
        finally:
            executor = MigrationExecutor(connection)
            executor.migrate(executor.loader.graph.leaf_nodes())
            selectors.policy_book_forget()

        policy = SlaPolicy.objects.get(priority="P3")
        assert (policy.resolution_target, policy.resolution_unit) == (5, "business_days")
        assert (policy.first_response_target, policy.first_response_unit) == (1, "business_days")
        open_p3.refresh_from_db()
        assert open_p3.first_response_due_at == london(2026, 12, 7, 18, 0)
        assert open_p3.resolution_due_at == london(2026, 12, 11, 18, 0)
        assert open_p3.resolution_warn_at == london(2026, 12, 10, 15, 45)
        assert open_p3.sla_next_check_at == deployed_at  # the sweep re-plans it at its next run
        assert Ticket.objects.values("resolution_due_at", "sla_next_check_at").get(pk=closed.pk) == closed_before
        assert Ticket.objects.values().get(pk=critical.pk) == critical_before  # 24x7 targets mean what they meant

        usecases.sla_sweep(now=deployed_at)

        fact = TicketFact.objects.get(ticket=open_p3)
        assert fact.first_response_due_at == london(2026, 12, 7, 18, 0)
        assert fact.resolution_due_at == london(2026, 12, 11, 18, 0)
        open_p3.refresh_from_db()
        assert open_p3.sla_next_check_at == london(2026, 12, 10, 15, 45)  # the resolution warning
