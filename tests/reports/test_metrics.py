"""Each metric against hand-computed fixtures (see world.build_p1_fortnight for the arithmetic)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from escalation.models import Escalation, SlaBreach
from reports import metrics
from reports.filters import ReportFilters, filters_from_params
from sofacover.errors import DomainError
from support import usecases
from tickets.models import Ticket

from .world import NOW, build_p1_fortnight, open_ticket, reply, resolve

pytestmark = pytest.mark.django_db

FORTNIGHT = ReportFilters(start=date(2026, 3, 2), end=date(2026, 3, 15))


@pytest.fixture
def fortnight(customer, agent):
    return build_p1_fortnight(customer, agent)


def p1(rows):
    return next(row for row in rows if row.priority == "P1")


class TestSlaByPriority:
    def test_response_counts_tickets_created_in_range(self, fortnight):
        row = p1(metrics.sla_by_priority(FORTNIGHT, now=NOW))
        assert (row.tickets, row.response_measured, row.response_met) == (6, 6, 4)
        assert row.responded_within_target == pytest.approx(4 / 6, abs=1e-4)
        assert row.response_target_share == 0.95
        assert row.response_met_target is False

    def test_resolution_counts_tickets_resolved_in_range(self, fortnight):
        row = p1(metrics.sla_by_priority(FORTNIGHT, now=NOW))
        assert (row.resolved, row.resolution_met) == (5, 4)
        assert row.resolved_within_target == 0.8
        assert row.resolution_target_share == 0.85

    def test_paused_time_does_not_count_against_the_target(self, fortnight):
        # c took 12 h of wall clock but only 2 h of SLA clock: within the 8 h target.
        c = fortnight.c
        assert c.resolved_at - c.created_at > metrics.timedelta(hours=8)
        one = ReportFilters(start=date(2026, 3, 4), end=date(2026, 3, 4))
        row = p1(metrics.sla_by_priority(one, now=NOW))
        assert (row.resolved, row.resolution_met, row.resolution_breaches) == (1, 1, 0)

    def test_a_closed_ticket_is_judged_by_its_resolution(self, fortnight):
        a = fortnight.a
        assert a.status == Ticket.Status.CLOSED
        assert a.resolution_due_at is not None
        assert a.resolved_at <= a.resolution_due_at

    def test_breaches_are_the_sla_engines_records(self, fortnight):
        row = p1(metrics.sla_by_priority(FORTNIGHT, now=NOW))
        assert row.response_breaches == 2
        assert row.resolution_breaches == 1
        responded_late = set(SlaBreach.objects.filter(kind="first_response").values_list("ticket__subject", flat=True))
        assert responded_late == {"b late twice", "e unanswered"}

    def test_met_plus_breached_is_every_ticket_measured(self, fortnight):
        row = p1(metrics.sla_by_priority(FORTNIGHT, now=NOW))
        assert row.response_met + row.response_breaches == row.response_measured
        assert row.resolution_met + row.resolution_breaches == row.resolved

    def test_medians_and_p90_are_wall_clock(self, fortnight):
        row = p1(metrics.sla_by_priority(FORTNIGHT, now=NOW))
        assert row.median_first_response_seconds == 1200
        assert row.p90_first_response_seconds == 5040
        assert row.median_resolution_seconds == 14400
        assert row.p90_resolution_seconds == 40320

    def test_priorities_without_tickets_are_empty_not_zero_shares(self, fortnight):
        p2 = next(row for row in metrics.sla_by_priority(FORTNIGHT, now=NOW) if row.priority == "P2")
        assert (p2.tickets, p2.resolved) == (0, 0)
        assert p2.responded_within_target is None
        assert p2.resolved_within_target is None
        assert p2.median_first_response_seconds is None
        assert p2.response_met_target is None

    def test_a_ticket_still_inside_its_response_target_is_not_measured(self, customer):
        at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        open_ticket(customer, at)
        row = p1(metrics.sla_by_priority(FORTNIGHT, now=at + metrics.timedelta(minutes=30)))
        assert (row.tickets, row.response_measured) == (1, 0)
        assert row.responded_within_target is None


class TestSatisfaction:
    def test_csat_survey_rate_fcr_and_distribution(self, fortnight):
        sat = metrics.satisfaction(FORTNIGHT)
        assert sat.resolved_tickets == 5
        assert sat.ratings == 3
        assert sat.csat_average == 4.0
        assert sat.survey_response_rate == 0.6
        assert sat.first_contact_resolution_rate == 0.8
        assert sat.distribution == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}

    def test_a_reopened_ticket_is_not_a_first_contact_resolution(self, fortnight):
        only_d = ReportFilters(start=date(2026, 3, 5), end=date(2026, 3, 5))
        sat = metrics.satisfaction(only_d)
        assert (sat.resolved_tickets, sat.first_contact_resolved) == (1, 0)

    def test_two_public_agent_replies_are_not_first_contact(self, customer, agent):
        at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        ticket = open_ticket(customer, at)
        reply(ticket, agent, at + metrics.timedelta(minutes=5))
        reply(ticket, agent, at + metrics.timedelta(minutes=6))
        resolve(ticket, agent, at + metrics.timedelta(minutes=7))
        assert metrics.satisfaction(FORTNIGHT).first_contact_resolved == 0

    def test_internal_notes_do_not_count_as_replies(self, customer, agent):

        at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        ticket = open_ticket(customer, at)
        usecases.reply(ticket=ticket, author=agent, body="note", internal=True, now=at)
        reply(ticket, agent, at + metrics.timedelta(minutes=5))
        resolve(ticket, agent, at + metrics.timedelta(minutes=7))
        assert metrics.satisfaction(FORTNIGHT).first_contact_resolved == 1

    def test_mttr_for_p0_and_p1(self, fortnight):
        assert metrics.satisfaction(FORTNIGHT).mttr_p0_p1_seconds == 22320


class TestNoData:
    def test_every_metric_is_empty_not_a_crash(self, db):
        card = metrics.scorecard(FORTNIGHT, now=NOW)
        values = {m.key: m.value for m in card.metrics}
        for key in ("csat_average", "survey_response_rate", "first_contact_resolution_rate", "mttr_p0_p1_seconds"):
            assert values[key] is None
        assert values["response_within_target_P0"] is None
        assert values["median_resolution_seconds"] is None
        assert all(m.met is None for m in card.metrics if m.value is None)
        assert card.offenders == []
        assert card.escalations == []
        assert [w["week"] for w in card.trends] == ["2026-03-02", "2026-03-09"]
        assert card.trends[0]["tickets"] == 0
        assert card.trends[0]["csat_average"] is None


class TestRange:
    @pytest.mark.parametrize(
        ("day", "inside", "outside"),
        [
            # 29 March 2026: London springs forward at 01:00 GMT; the day is 23 hours long.
            (
                "2026-03-29",
                [datetime(2026, 3, 29, 0, 0, tzinfo=UTC), datetime(2026, 3, 29, 22, 59, tzinfo=UTC)],
                [datetime(2026, 3, 28, 23, 59, tzinfo=UTC), datetime(2026, 3, 29, 23, 0, tzinfo=UTC)],
            ),
            # 25 October 2026: London falls back at 01:00 BST; the day is 25 hours long.
            (
                "2026-10-25",
                [datetime(2026, 10, 24, 23, 0, tzinfo=UTC), datetime(2026, 10, 25, 23, 59, tzinfo=UTC)],
                [datetime(2026, 10, 24, 22, 59, tzinfo=UTC), datetime(2026, 10, 26, 0, 0, tzinfo=UTC)],
            ),
        ],
    )
    def test_days_are_whole_days_in_london_across_dst(self, customer, day, inside, outside):
        for at in inside + outside:
            open_ticket(customer, at)
        f = filters_from_params({"from": day, "to": day}, today=date(2026, 12, 1))
        row = p1(metrics.sla_by_priority(f, now=datetime(2026, 12, 1, tzinfo=UTC)))
        assert row.tickets == len(inside)

    def test_a_ticket_spanning_the_start_counts_for_resolution_only(self, fortnight):
        f_only = ReportFilters(start=date(2026, 3, 2), end=date(2026, 3, 2))
        row = p1(metrics.sla_by_priority(f_only, now=NOW))
        # a was created on the 2nd; f was created on the 1st and resolved on the 2nd.
        assert row.tickets == 1
        assert row.resolved == 2

    def test_a_ticket_spanning_the_end_counts_for_response_only(self, fortnight):
        last_day = ReportFilters(start=date(2026, 3, 15), end=date(2026, 3, 15))
        row = p1(metrics.sla_by_priority(last_day, now=NOW))
        assert (row.tickets, row.resolved) == (1, 0)

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "2026-02-30"}, "from"),
            ({"to": "yesterday"}, "to"),
            ({"from": "2026-03-10", "to": "2026-03-01"}, "from"),
            ({"priority": "P9"}, "priority"),
            ({"tier": "4"}, "tier"),
            ({"agent": "nobody@example.com"}, "agent"),
        ],
    )
    def test_bad_filters_are_refused_with_the_field(self, db, params, field):
        with pytest.raises(DomainError) as exc:
            filters_from_params(params, today=date(2026, 3, 20))
        assert exc.value.field == field

    def test_default_range_is_the_last_90_days(self):
        f = filters_from_params({}, today=date(2026, 3, 20))
        assert (f.start, f.end) == (date(2025, 12, 21), date(2026, 3, 20))


class TestFilters:
    def test_each_filter_narrows_the_tickets(self, customer, agent):
        at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
        open_ticket(customer, at, priority="P1", category="payment", channel="email", assignee=agent)
        open_ticket(customer, at, priority="P1", category="orders", channel="portal")
        base: dict[str, Any] = {"start": date(2026, 3, 2), "end": date(2026, 3, 15)}
        for extra, expected in [
            ({}, 2),
            ({"category": "payment"}, 1),
            ({"channel": "portal"}, 1),
            ({"agent": agent}, 1),
            ({"tier": 2}, 0),
            ({"priority": "P0"}, 0),
        ]:
            f = ReportFilters(**base, **extra)
            assert sum(r.tickets for r in metrics.sla_by_priority(f, now=NOW)) == expected, extra


class TestTablesBehindTheScorecard:
    def test_worst_offenders_latest_first(self, fortnight):
        rows = metrics.worst_offenders(FORTNIGHT, now=NOW)
        assert [(r["reference"], r["kind"]) for r in rows] == [
            (fortnight.e.reference, "response"),
            (fortnight.e.reference, "resolution"),
            (fortnight.b.reference, "resolution"),
            (fortnight.b.reference, "response"),
        ]
        assert rows[2]["late_seconds"] == 7200
        assert rows[3]["late_seconds"] == 3600

    def test_escalations_by_rule_and_reason(self, fortnight):
        rows = metrics.escalations_by_rule_and_reason(FORTNIGHT)
        found = {(r["reason"], r["rule"]): (r["escalations"], r["to_management"]) for r in rows}
        assert found == {
            ("auto", "P1 to Tier 2 after 2 h"): (1, 0),
            ("auto", "P1 unresolved after 4 h to management"): (1, 1),
            ("technical_complexity", None): (1, 0),
        }
        assert Escalation.objects.count() == 3

    def test_backlog_by_age_now(self, fortnight):
        backlog = {row["priority"]: row for row in metrics.backlog_by_age(FORTNIGHT, now=NOW)}
        # e (filed 6 March, still open) is 14 days old on 20 March.
        assert backlog["P1"]["total"] == 1
        assert backlog["P1"]["7_to_30_days"] == 1
        assert backlog["P0"]["total"] == 0

    def test_weekly_trends_in_desk_weeks(self, fortnight):
        weeks = {w["week"]: w for w in metrics.weekly_trends(FORTNIGHT, now=NOW)}
        assert list(weeks) == ["2026-03-02", "2026-03-09"]
        assert weeks["2026-03-02"]["tickets"] == 5
        assert weeks["2026-03-02"]["responded_within_target"] == 0.6
        assert weeks["2026-03-02"]["resolved"] == 5
        assert weeks["2026-03-02"]["csat_average"] == 4.0
        assert weeks["2026-03-09"]["tickets"] == 1
        assert weeks["2026-03-09"]["responded_within_target"] == 1.0
        assert weeks["2026-03-09"]["resolved"] == 0

    def test_weeks_start_on_monday_midnight_in_london_across_dst(self, customer):
        # 23:30 UTC on Sunday 29 March 2026 is 00:30 BST on Monday 30 March: the new week.
        open_ticket(customer, datetime(2026, 3, 29, 23, 30, tzinfo=UTC))
        # 23:30 UTC on Sunday 22 March 2026 is 23:30 GMT: still the week of 16 March.
        open_ticket(customer, datetime(2026, 3, 22, 23, 30, tzinfo=UTC))
        f = ReportFilters(start=date(2026, 3, 16), end=date(2026, 4, 5))
        weeks = {w["week"]: w["tickets"] for w in metrics.weekly_trends(f, now=NOW)}
        assert weeks == {"2026-03-16": 1, "2026-03-23": 0, "2026-03-30": 1}

    def test_scorecard_marks_each_metric_against_its_target(self, fortnight):
        card = {m.key: m for m in metrics.scorecard(FORTNIGHT, now=NOW).metrics}
        assert card["response_within_target_P1"].met is False
        assert card["resolution_within_target_P1"].met is False  # 0.8 < 0.85
        assert card["csat_average"].met is False  # 4.0, target > 4.5
        assert card["first_contact_resolution_rate"].met is True  # 0.8 > 0.7
        assert card["survey_response_rate"].met is False  # 0.6, target > 0.8
        assert card["mttr_p0_p1_seconds"].met is False  # 6 h 12 min, target < 2 h
        assert card["mttd_seconds"].available is True  # from incidents: none in this fortnight
        assert card["mttd_seconds"].value is None
        assert card["mttd_seconds"].met is None

    def test_deflections_come_from_the_knowledge_base_when_installed(self, db):
        card = {m.key: m for m in metrics.scorecard(FORTNIGHT, now=NOW).metrics}
        assert card["deflected_tickets"].available is True
        assert card["deflected_tickets"].value == 0


class TestPercentiles:
    @pytest.mark.parametrize(
        ("minutes", "median", "p90"),
        [([10], 600, 600), ([10, 20], 900, 1140), ([5, 1, 3, 2, 4], 180, 276)],
    )
    def test_continuous_percentiles_like_postgresql(self, customer, agent, minutes, median, p90):
        at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        for m in minutes:
            ticket = open_ticket(customer, at)
            reply(ticket, agent, at + metrics.timedelta(minutes=m))
        result = metrics.percentiles(metrics.tickets_created_in(FORTNIGHT), metrics.RESPONSE_SECONDS, by=None)
        assert result[None][0.5] == pytest.approx(median)
        assert result[None][0.9] == pytest.approx(p90)

    def test_no_values_no_group(self, db):
        assert metrics.percentiles(metrics.tickets_created_in(FORTNIGHT), metrics.RESPONSE_SECONDS, by=None) == {}
        assert metrics.percentiles(Ticket.objects.all(), metrics.RESPONSE_SECONDS, by="priority") == {}
