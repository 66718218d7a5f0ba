"""The SLA engine against the database: deadlines on change, pauses, the sweep, escalation."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from escalation import selectors, services
from escalation.models import Escalation, EscalationRule, SlaBreach, SlaPause, SlaPolicy
from notifications.models import Notification
from support import usecases
from tests.tickets.factories import make_user
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 09:00 UTC = 09:00 in London (GMT).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _fresh_policy_book():
    selectors.policy_book_forget()
    yield
    selectors.policy_book_forget()


def open_ticket(customer: User, priority: str, at: datetime = T0, **kwargs) -> Ticket:
    ticket = usecases.file_ticket(
        requester=customer, subject=f"{priority} problem", description="d", priority=priority, now=at, **kwargs
    )
    ticket.refresh_from_db()
    return ticket


def sweep(at: datetime) -> services.SweepResult:
    return usecases.sla_sweep(now=at)


class TestDeadlinesOnCreate:
    @pytest.mark.parametrize(
        ("priority", "response", "resolution"),
        [("P0", 15 * M, 2 * H), ("P1", H, 8 * H)],
    )
    def test_around_the_clock_priorities(self, customer, priority, response, resolution):
        ticket = open_ticket(customer, priority)
        assert ticket.first_response_due_at == T0 + response
        assert ticket.resolution_due_at == T0 + resolution
        assert ticket.first_response_warn_at == T0 + response * 3 / 4
        assert ticket.sla_next_check_at == T0 + response * 3 / 4

    def test_p2_runs_on_london_business_hours(self, customer):
        friday_evening = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)  # 17:00 London (GMT)
        ticket = open_ticket(customer, "P2", at=friday_evening)
        # 1 h on Friday, then 3 h from Monday 09:00.
        assert ticket.first_response_due_at == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
        # 1 business day: 17:00 Friday to 17:00 Monday.
        assert ticket.resolution_due_at == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)

    def test_no_separate_tier_clock_in_the_tier_a_ticket_was_filed_in(self, customer):
        # Tier 1's 15 min is the first-response target itself: one clock, one breach.
        ticket = open_ticket(customer, "P0")
        assert ticket.tier_response_due_at is None

    def test_tier_clock_starts_when_the_ticket_moves_tier(self, customer, agent):
        ticket = open_ticket(customer, "P0")
        usecases.change(ticket=ticket, tier=3, actor=agent, now=T0 + 20 * M)
        ticket.refresh_from_db()
        assert ticket.tier_response_due_at == T0 + 20 * M + H  # Tier 3 critical: 1 h

    def test_p3_has_no_tier_or_update_timer(self, customer):
        ticket = open_ticket(customer, "P3")
        assert ticket.tier_response_due_at is None
        assert ticket.next_update_due_at is None


class TestPauseAndPriority:
    def test_waiting_on_the_customer_pauses_and_their_reply_resumes(self, customer, agent):
        ticket = open_ticket(customer, "P1")
        usecases.change_status(ticket=ticket, to=Ticket.Status.PENDING_CUSTOMER, actor=agent, now=T0 + 10 * M)
        ticket.refresh_from_db()
        assert ticket.first_response_due_at is None  # paused: no deadline can be reached
        usecases.reply(ticket=ticket, author=customer, body="here", now=T0 + 70 * M)
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.OPEN
        assert ticket.first_response_due_at == T0 + H + H  # an hour target, pushed by the hour paused
        pause = SlaPause.objects.get(ticket=ticket)
        assert (pause.started_at, pause.ended_at, pause.reason) == (T0 + 10 * M, T0 + 70 * M, "pending_customer")

    def test_a_priority_change_recomputes_from_creation(self, customer, agent):
        ticket = open_ticket(customer, "P3")
        usecases.change(ticket=ticket, actor=agent, now=T0 + 5 * M, priority="P0")
        ticket.refresh_from_db()
        assert ticket.first_response_due_at == T0 + 15 * M
        assert ticket.resolution_due_at == T0 + 2 * H

    def test_first_agent_reply_starts_the_update_timer(self, customer, agent):
        ticket = open_ticket(customer, "P0")
        usecases.reply(ticket=ticket, author=agent, body="on it", now=T0 + 10 * M)
        ticket.refresh_from_db()
        assert ticket.next_update_due_at == T0 + 40 * M
        usecases.reply(ticket=ticket, author=agent, body="update", now=T0 + 35 * M)
        ticket.refresh_from_db()
        assert ticket.next_update_due_at == T0 + 65 * M


class TestSweepFiresRulesAtTheirMoment:
    def test_p0_goes_to_tier_2_at_30_minutes_and_not_a_second_before(self, customer, agent):
        ticket = open_ticket(customer, "P0")
        usecases.reply(ticket=ticket, author=agent, body="looking", now=T0 + 5 * M)
        sweep(T0 + 30 * M - timedelta(seconds=1))
        assert not Escalation.objects.filter(ticket=ticket).exists()
        sweep(T0 + 30 * M)
        escalation = Escalation.objects.get(ticket=ticket)
        assert (escalation.reason, escalation.from_tier, escalation.to_tier) == ("auto", 1, 2)
        assert escalation.at == T0 + 30 * M
        ticket.refresh_from_db()
        assert ticket.tier == 2
        assert ticket.tier_entered_at == T0 + 30 * M
        assert ticket.tier_response_due_at == T0 + 60 * M  # Tier 2 critical: 30 min

    def test_p1_goes_to_tier_2_at_two_hours(self, customer):
        ticket = open_ticket(customer, "P1")
        sweep(T0 + 2 * H - timedelta(seconds=1))
        assert not Escalation.objects.filter(ticket=ticket, to_tier=2).exists()
        sweep(T0 + 2 * H)
        assert Escalation.objects.filter(ticket=ticket, to_tier=2, reason="auto").count() == 1

    @pytest.mark.parametrize("priority", ["P0", "P1"])
    def test_unresolved_after_four_hours_goes_to_management(self, customer, manager, priority):
        ticket = open_ticket(customer, priority)
        sweep(T0 + 4 * H - timedelta(seconds=1))
        assert not Escalation.objects.filter(ticket=ticket, to_management=True).exists()
        sweep(T0 + 4 * H)
        escalation = Escalation.objects.get(ticket=ticket, to_management=True)
        assert escalation.rule is not None
        assert escalation.rule.name.endswith("to management")
        assert Notification.objects.filter(kind="escalated", user=manager, ticket=ticket).exists()

    def test_p2_never_escalates_automatically(self, customer):
        ticket = open_ticket(customer, "P2")
        sweep(T0 + 30 * 24 * H)
        assert not Escalation.objects.filter(ticket=ticket).exists()

    def test_a_resolved_ticket_is_not_escalated(self, customer, agent):
        ticket = open_ticket(customer, "P0")
        usecases.resolve(ticket=ticket, actor=agent, now=T0 + 20 * M, resolution_note="Fixed.")
        sweep(T0 + 5 * H)
        assert not Escalation.objects.filter(ticket=ticket).exists()

    def test_paused_time_delays_the_rule(self, customer, agent):
        ticket = open_ticket(customer, "P0")
        usecases.change_status(ticket=ticket, to=Ticket.Status.PENDING_CUSTOMER, actor=agent, now=T0 + 10 * M)
        sweep(T0 + 3 * H)  # waiting on the customer the whole time: the clock stood still
        assert not Escalation.objects.filter(ticket=ticket).exists()
        usecases.reply(ticket=ticket, author=customer, body="back", now=T0 + 3 * H)
        sweep(T0 + 3 * H + 20 * M - timedelta(seconds=1))
        assert not Escalation.objects.filter(ticket=ticket).exists()
        sweep(T0 + 3 * H + 20 * M)
        assert Escalation.objects.filter(ticket=ticket, to_tier=2).count() == 1


class TestIdempotence:
    def test_sweeping_twice_escalates_once_and_notifies_once(self, customer):
        make_user("t2@sofacoverpro.com", "agent", tier=2)
        ticket = open_ticket(customer, "P0")
        sweep(T0 + 31 * M)
        before = Notification.objects.count()
        sweep(T0 + 31 * M)
        sweep(T0 + 32 * M)
        assert Escalation.objects.filter(ticket=ticket).count() == 1
        assert Notification.objects.filter(kind="escalated").count() > 0
        assert Notification.objects.count() == before

    def test_a_rule_on_record_is_not_applied_again_even_when_the_ticket_is_due(self, customer):
        ticket = open_ticket(customer, "P0")
        book = selectors.policy_book(fresh=True)
        first = services.SweepResult()
        services.sweep_ticket(ticket_id=ticket.pk, now=T0 + 30 * M, book=book, result=first, changed=lambda ids: None)
        assert first.escalated == 1
        Ticket.objects.filter(pk=ticket.pk).update(sla_next_check_at=T0)  # as if a stale plan said it is due
        again = services.SweepResult()
        services.sweep_ticket(ticket_id=ticket.pk, now=T0 + 31 * M, book=book, result=again, changed=lambda ids: None)
        assert (again.examined, again.escalated) == (1, 0)
        assert Escalation.objects.filter(ticket=ticket).count() == 1

    def test_the_sweep_cost_does_not_grow_with_tickets_that_are_not_due(self, customer):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        sweep(T0)  # the first sweep creates its heartbeat row
        counts = []
        for batch in (5, 25):
            for _ in range(batch):
                open_ticket(customer, "P3")
            with CaptureQueriesContext(connection) as queries:
                result = sweep(T0 + M)
            assert result.examined == 0
            counts.append(len(queries))
        assert counts[0] == counts[1] <= 15


class TestManagementHearsOnce:
    """Once a ticket is with management, by a rule or by hand, nothing sends it there again."""

    @pytest.fixture
    def desk(self, manager):
        return {
            "tier2": make_user("t2@sofacoverpro.com", "agent", tier=2),
            "tier3": make_user("t3@sofacoverpro.com", "agent", tier=3),
            "manager": manager,
        }

    def management_alerts(self, ticket: Ticket, manager: User) -> int:
        return Notification.objects.filter(ticket=ticket, kind="escalated", user=manager).count()

    @pytest.mark.parametrize("priority", ["P0", "P1"])
    def test_the_four_hour_rule_stays_quiet_after_a_manual_escalation_to_management(self, customer, desk, priority):
        ticket = open_ticket(customer, priority)
        tier3 = desk["tier3"]
        for minute in (10, 11, 12):  # Tier 1 -> 2 -> 3 -> management, by the Tier 3 agent
            usecases.escalate(ticket=ticket, actor=tier3, reason="resource_constraints", now=T0 + minute * M)
        alerts = self.management_alerts(ticket, desk["manager"])
        assert alerts > 0

        result = sweep(T0 + 4 * H)
        sweep(T0 + 5 * H)

        assert Escalation.objects.filter(ticket=ticket, to_management=True).count() == 1
        assert not Escalation.objects.filter(ticket=ticket, rule__action="notify_management").exists()
        assert self.management_alerts(ticket, desk["manager"]) == alerts
        assert result.escalated == 0
        ticket.refresh_from_db()
        assert ticket.sla_next_check_at is None or ticket.sla_next_check_at > T0 + 5 * H

    def test_a_manual_escalation_after_the_rule_is_refused_and_alerts_nobody(self, customer, desk):
        ticket = open_ticket(customer, "P1")
        sweep(T0 + 4 * H)  # the 2 h rule to Tier 2, then the 4 h rule to management
        ticket_services.ticket_move_to_tier(ticket=ticket, tier=3, actor=None, now=T0 + 4 * H + M)
        before = Notification.objects.filter(ticket=ticket, kind="escalated").count()

        with pytest.raises(services.AlreadyWithManagement):
            usecases.escalate(ticket=ticket, actor=desk["tier3"], reason="technical_complexity", now=T0 + 4 * H + 2 * M)

        assert Escalation.objects.filter(ticket=ticket, to_management=True).count() == 1
        assert Notification.objects.filter(ticket=ticket, kind="escalated").count() == before

    def test_two_management_rules_due_in_one_sweep_alert_management_once(self, customer, desk):
        EscalationRule.objects.create(
            name="P1 unresolved after 5 h to management",
            priority="P1",
            condition="not_resolved",
            after_minutes=5 * 60,
            action="notify_management",
        )
        selectors.policy_book_forget()
        ticket = open_ticket(customer, "P1")

        sweep(T0 + 6 * H)

        assert Escalation.objects.filter(ticket=ticket, to_management=True).count() == 1


class TestSweepBatches:
    def test_the_queries_of_a_sweep_do_not_grow_with_the_due_tickets_in_a_batch(self, customer, settings):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        settings.SLA_SWEEP_BATCH = 100
        make_user("t2@sofacoverpro.com", "agent", tier=2)
        sweep(T0 - H)  # the first sweep creates its heartbeat row
        counts: list[int] = []
        for due in (60, 90):  # on PostgreSQL both above the bulk path's COPY threshold
            start = T0 + len(counts) * 24 * H
            ids = [open_ticket(customer, "P0", at=start).pk for _ in range(due)]
            with CaptureQueriesContext(connection) as queries:
                result = sweep(start + 31 * M)  # first-response breach and the Tier 2 rule on each
            assert (result.examined, result.escalated, result.breached) == (due, due, due)
            assert Ticket.objects.filter(pk__in=ids, tier=2).count() == due
            counts.append(len(queries))
            Ticket.objects.filter(pk__in=ids).update(sla_next_check_at=None)  # the next round is alone
        assert counts[0] == counts[1]

    def test_batches_cover_every_due_ticket(self, customer, settings):
        settings.SLA_SWEEP_BATCH = 4
        make_user("t2@sofacoverpro.com", "agent", tier=2)
        ids = [open_ticket(customer, "P0").pk for _ in range(10)]
        result = sweep(T0 + 31 * M)
        assert (result.examined, result.escalated) == (10, 10)
        assert Escalation.objects.filter(ticket_id__in=ids).count() == 10
        slack = Notification.objects.filter(kind="escalated", channel="slack", ticket_id__in=ids)
        assert slack.count() == 10

    def test_a_conflict_in_a_batch_redoes_it_ticket_by_ticket_and_leaves_only_that_ticket_due(
        self, customer, settings, monkeypatch
    ):
        settings.SLA_SWEEP_BATCH = 100
        make_user("t2@sofacoverpro.com", "agent", tier=2)
        ids = [open_ticket(customer, "P0").pk for _ in range(5)]
        rule = EscalationRule.objects.get(name="P0 to Tier 2 after 30 min")
        # A writer that does not lock got there first on one ticket, and the sweep's read missed it.
        Escalation.objects.create(ticket_id=ids[2], at=T0, reason="auto", rule=rule, from_tier=1, to_tier=2)
        monkeypatch.setattr(services, "_escalations_by_ticket", lambda ticket_ids: {})

        result = sweep(T0 + 31 * M)

        assert (result.examined, result.escalated, result.skipped) == (4, 4, 1)
        assert Escalation.objects.filter(ticket_id__in=ids).count() == 5  # nothing doubled
        assert list(
            Ticket.objects.filter(pk__in=ids, sla_next_check_at__lte=T0 + 31 * M).values_list("pk", flat=True)
        ) == [ids[2]]
        # Nothing of the rolled-back batch survived: one breach per ticket, none for the conflicting one.
        assert SlaBreach.objects.filter(ticket_id__in=ids).count() == 4
        assert not Notification.objects.filter(ticket_id=ids[2], kind__in=["escalated", "breached"]).exists()


class TestBreaches:
    def test_a_ticket_resolved_unanswered_after_its_deadline_still_breached(self, customer, agent):
        # Regression: resolved before any sweep looked, the missed first response was never recorded.
        ticket = open_ticket(customer, "P0")
        usecases.resolve(ticket=ticket, actor=agent, now=T0 + 20 * M, resolution_note="Fixed.")
        sweep(T0 + 21 * M)
        assert SlaBreach.objects.filter(ticket=ticket, kind="first_response", due_at=T0 + 15 * M).count() == 1
        ticket.refresh_from_db()
        assert ticket.sla_next_check_at is None

    def test_no_warning_when_the_breach_itself_is_already_due(self, customer):
        ticket = open_ticket(customer, "P0")
        sweep(T0 + 16 * M)  # nobody looked at 09:11:15
        assert SlaBreach.objects.filter(ticket=ticket, kind="first_response").count() == 1
        assert not Notification.objects.filter(kind="breach_warning", ticket=ticket).exists()

    def test_first_response_breach_recorded_once_at_its_due_time(self, customer):
        ticket = open_ticket(customer, "P0")
        sweep(T0 + 14 * M)
        assert not SlaBreach.objects.filter(ticket=ticket).exists()
        assert Notification.objects.filter(kind="breach_warning", ticket=ticket).exists()  # 75 % at 11:15
        sweep(T0 + 15 * M)
        sweep(T0 + 16 * M)
        breach = SlaBreach.objects.get(ticket=ticket, kind="first_response")
        assert breach.due_at == T0 + 15 * M

    def test_a_reply_just_before_the_deadline_prevents_the_breach(self, customer, agent):
        ticket = open_ticket(customer, "P0")
        usecases.reply(ticket=ticket, author=agent, body="hi", now=T0 + 15 * M - timedelta(seconds=1))
        sweep(T0 + 15 * M)
        assert not SlaBreach.objects.filter(ticket=ticket, kind="first_response").exists()

    def test_a_late_reply_is_still_recorded_as_a_breach(self, customer, agent):
        ticket = open_ticket(customer, "P0")
        usecases.reply(ticket=ticket, author=agent, body="sorry", now=T0 + 20 * M)
        sweep(T0 + 21 * M)
        assert SlaBreach.objects.filter(ticket=ticket, kind="first_response", due_at=T0 + 15 * M).count() == 1


class TestManualEscalation:
    def test_agent_escalates_to_the_next_tier_with_a_reason(self, customer, agent):
        ticket = open_ticket(customer, "P2")
        escalation = usecases.escalate(
            ticket=ticket, actor=agent, reason="technical_complexity", note="needs a dev", now=T0
        )
        ticket.refresh_from_db()
        assert (escalation.from_tier, escalation.to_tier, escalation.actor) == (1, 2, agent)
        assert ticket.tier == 2

    def test_from_tier_3_it_goes_to_management(self, customer):
        ticket = open_ticket(customer, "P2", tier=3)
        tier3 = make_user("t3@sofacoverpro.com", "agent", tier=3)
        escalation = usecases.escalate(ticket=ticket, actor=tier3, reason="resource_constraints", now=T0)
        assert escalation.to_management is True
        assert escalation.to_tier == 3

    def test_customer_may_ask_once_per_ticket_whatever_its_tier(self, customer, manager):
        ticket = open_ticket(customer, "P2")
        escalation = usecases.escalate(ticket=ticket, actor=customer, reason="customer_request", now=T0)
        ticket.refresh_from_db()
        assert (ticket.tier, escalation.review_pending) == (2, True)
        with pytest.raises(services.EscalationAlreadyRequested):
            usecases.escalate(ticket=ticket, actor=customer, reason="customer_request", now=T0 + M)
        usecases.change(ticket=ticket, actor=manager, now=T0 + 2 * M, tier=1)
        with pytest.raises(services.EscalationAlreadyRequested):
            usecases.escalate(ticket=ticket, actor=customer, reason="customer_request", now=T0 + 3 * M)
        assert Escalation.objects.filter(ticket=ticket).count() == 1

    def test_customer_cannot_use_an_agent_reason(self, customer):
        ticket = open_ticket(customer, "P2")
        with pytest.raises(ticket_services.NotAllowed):
            usecases.escalate(ticket=ticket, actor=customer, reason="technical_complexity", now=T0)
        assert not Escalation.objects.exists()

    def test_customer_cannot_escalate_anothers_ticket(self, customer, other_customer):
        ticket = open_ticket(customer, "P2")
        with pytest.raises(ticket_services.NotAllowed):
            usecases.escalate(ticket=ticket, actor=other_customer, reason="customer_request", now=T0)

    def test_closed_tickets_cannot_be_escalated(self, customer, agent):
        ticket = open_ticket(customer, "P2")
        usecases.change_status(ticket=ticket, to="closed", actor=agent, now=T0)
        with pytest.raises(services.EscalationRefused):
            usecases.escalate(ticket=ticket, actor=agent, reason="technical_complexity", now=T0)


class TestRecompute:
    def test_dry_run_reports_moves_and_writes_nothing(self, customer):
        tickets = [open_ticket(customer, "P1") for _ in range(3)]
        SlaPolicy.objects.filter(priority="P1").update(first_response_target=30, first_response_unit="minutes")
        moved = services.sla_recompute_open(now=T0, priorities=["P1"], dry_run=True)
        assert len(moved) == 3
        assert {row["first_response"] for row in moved} == {-30 * M}
        tickets[0].refresh_from_db()
        assert tickets[0].first_response_due_at == T0 + H
        usecases.sla_recompute_open(now=T0, priorities=["P1"])
        tickets[0].refresh_from_db()
        assert tickets[0].first_response_due_at == T0 + 30 * M

    def test_the_reports_see_recomputed_deadlines(self, customer):
        from reports.models import TicketFact

        ticket = open_ticket(customer, "P1")
        assert TicketFact.objects.get(ticket=ticket).first_response_due_at == T0 + H
        SlaPolicy.objects.filter(priority="P1").update(first_response_target=30, first_response_unit="minutes")
        usecases.sla_recompute_open(now=T0, priorities=["P1"])
        assert TicketFact.objects.get(ticket=ticket).first_response_due_at == T0 + 30 * M


class TestSlaRecord:
    def test_reads_the_pauses_and_the_breaches_in_order_in_one_query(self, customer, agent, django_assert_num_queries):
        ticket = open_ticket(customer, "P0")
        usecases.change_status(ticket=ticket, actor=agent, to=Ticket.Status.PENDING_CUSTOMER, now=T0 + 5 * M)
        usecases.change_status(ticket=ticket, actor=agent, to=Ticket.Status.OPEN, now=T0 + 10 * M)
        sweep(T0 + 4 * H)  # response and resolution missed
        other = open_ticket(customer, "P1")
        sweep(T0 + 5 * H)

        with django_assert_num_queries(1):
            record = selectors.sla_record_for(ticket)

        assert [(p.started_at, p.ended_at, p.get_reason_display()) for p in record.pauses] == [
            (T0 + 5 * M, T0 + 10 * M, "Waiting on the customer")
        ]
        expected = list(SlaBreach.objects.filter(ticket=ticket).order_by("breached_at", "id"))
        assert len(expected) >= 2
        assert [(b.pk, b.kind, b.due_at, b.tier, b.priority) for b in record.breaches] == [
            (b.pk, b.kind, b.due_at, b.tier, b.priority) for b in expected
        ]
        assert selectors.sla_record_for(other).pauses == []
