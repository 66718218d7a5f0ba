"""The reports' rollup: kept equal to the live definitions by every change, rebuilt equal, read exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports import metrics, rollup
from reports.filters import ReportFilters
from reports.models import TicketFact
from support import usecases
from tests.tickets.factories import make_user
from tickets.models import Ticket

from . import live_reference as live
from .world import NOW, build_p1_fortnight, open_ticket, reply, resolve, rollup_tables, sweep

pytestmark = pytest.mark.django_db

FORTNIGHT = ReportFilters(start=date(2026, 3, 2), end=date(2026, 3, 15))
START = datetime(2026, 2, 26, 6, 0, tzinfo=UTC)  # some tickets before the range, some after it
M = timedelta(minutes=1)


# --- comparing the two computations -------------------------------------------------


def _priority_rows(rows) -> list[dict]:
    fields = [
        "priority",
        "tickets",
        "response_measured",
        "response_met",
        "response_breaches",
        "resolved",
        "resolution_met",
        "resolution_breaches",
        "median_first_response_seconds",
        "p90_first_response_seconds",
        "median_resolution_seconds",
        "p90_resolution_seconds",
        "mean_resolution_seconds",
    ]
    return [{name: getattr(row, name) for name in fields} for row in rows]


def _close(a, b) -> bool:
    """Equal, floats within the 0.1 the figures are rounded to (integer microseconds vs float averages)."""
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 0.1 + 1e-9
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def assert_rollup_equals_live(f: ReportFilters, *, now: datetime) -> None:
    live_rows, rollup_rows = (_priority_rows(m.sla_by_priority(f, now=now)) for m in (live, metrics))
    assert _close(rollup_rows, live_rows), (rollup_rows, live_rows)
    live_sat, rollup_sat = live.satisfaction(f), metrics.satisfaction(f)
    assert _close(vars(rollup_sat), vars(live_sat)), (vars(rollup_sat), vars(live_sat))
    assert _close(metrics.overall_durations(f), live.overall_durations(f))
    assert _close(metrics.weekly_trends(f, now=now), live.weekly_trends(f, now=now))
    assert metrics.backlog_by_age(f, now=now) == live.backlog_by_age(f, now=now)
    assert _close(metrics.worst_offenders(f, now=now), live.worst_offenders(f, now=now))


# --- random desks through the real services -----------------------------------------

story = st.fixed_dictionaries(
    {
        "priority": st.sampled_from(["P0", "P1", "P2", "P3"]),
        "category": st.sampled_from(["payment", "orders", "other"]),
        "channel": st.sampled_from(["portal", "email"]),
        "assigned": st.booleans(),
        "created": st.integers(0, 22 * 24 * 60),  # minutes after START
        "reply": st.one_of(st.none(), st.integers(1, 3000)),  # minutes after filing
        "note": st.booleans(),
        "second_reply": st.booleans(),
        "pause": st.booleans(),
        "resolve": st.one_of(st.none(), st.integers(1, 6000)),  # minutes after the reply (or filing)
        "reopen": st.booleans(),
        "rating": st.one_of(st.none(), st.integers(1, 5)),
        "new_priority": st.one_of(st.none(), st.sampled_from(["P0", "P1", "P2", "P3"])),
        "escalate": st.booleans(),
    }
)


def play(s: dict, *, customer, agent) -> None:
    """One ticket's life through the services, every step at its own time."""
    at = START + s["created"] * M
    ticket = open_ticket(
        customer,
        at,
        priority=s["priority"],
        category=s["category"],
        channel=s["channel"],
        assignee=agent if s["assigned"] else None,
    )
    if s["new_priority"]:
        at += 7 * M
        usecases.change(ticket=ticket, actor=agent, now=at, priority=s["new_priority"])
    if s["escalate"]:
        at += 3 * M
        usecases.escalate(ticket=ticket, actor=agent, reason="technical_complexity", now=at)
    if s["note"]:
        at += 2 * M
        usecases.reply(ticket=ticket, author=agent, body="Looking.", internal=True, now=at)
    if s["reply"] is not None:
        at += s["reply"] * M
        reply(ticket, agent, at)
        if s["pause"]:
            at += 5 * M
            usecases.change_status(ticket=ticket, to=Ticket.Status.PENDING_CUSTOMER, actor=agent, now=at)
            at += 90 * M
            reply(ticket, customer, at)
        if s["second_reply"]:
            at += 11 * M
            reply(ticket, agent, at)
    if s["resolve"] is None:
        return
    at += s["resolve"] * M
    resolve(ticket, agent, at)
    if s["reopen"]:
        at += 13 * M
        usecases.reopen(ticket=ticket, actor=customer, now=at)
        at += 17 * M
        resolve(ticket, agent, at)
    if s["rating"] is not None:
        usecases.rate(ticket=ticket, actor=customer, score=s["rating"], now=at + M)


FILTERS: list[dict[str, Any]] = [
    {},
    {"priority": "P1"},
    {"tier": 2},
    {"category": "payment"},
    {"channel": "email"},
    {"agent": True},
]


class TestRollupEqualsLive:
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(stories=st.lists(story, min_size=1, max_size=7), mid_sweep=st.booleans())
    def test_for_any_desk_every_figure_with_every_filter(self, customer, agent, stories, mid_sweep):
        with transaction.atomic():
            for s in stories:
                play(s, customer=customer, agent=agent)
                if mid_sweep:
                    sweep(START + 10 * 24 * 60 * M)
            sweep(NOW)
            for extra in FILTERS:
                if extra.get("agent"):
                    extra = {"agent": agent}
                assert_rollup_equals_live(ReportFilters(start=FORTNIGHT.start, end=FORTNIGHT.end, **extra), now=NOW)
            maintained = rollup_tables()
            rollup.rollup_rebuild()
            assert rollup_tables() == maintained
            transaction.set_rollback(True)

    def test_the_hand_computed_fortnight(self, customer, agent):
        build_p1_fortnight(customer, agent)
        assert_rollup_equals_live(FORTNIGHT, now=NOW)

    def test_a_rating_changed_within_the_week_replaces_the_old_one(self, customer, agent):
        ticket = open_ticket(customer, datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
        reply(ticket, agent, ticket.created_at + 10 * M)
        resolve(ticket, agent, ticket.created_at + 60 * M)
        usecases.rate(ticket=ticket, actor=customer, score=2, now=ticket.created_at + 70 * M)
        usecases.rate(ticket=ticket, actor=customer, score=5, now=ticket.created_at + 80 * M)
        assert metrics.satisfaction(FORTNIGHT).distribution == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
        assert_rollup_equals_live(FORTNIGHT, now=NOW)

    def test_a_deleted_ticket_leaves_the_figures(self, customer, agent):
        kept = open_ticket(customer, datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
        gone = open_ticket(customer, datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
        for ticket in (kept, gone):
            reply(ticket, agent, ticket.created_at + 10 * M)
            resolve(ticket, agent, ticket.created_at + 60 * M)
            usecases.rate(ticket=ticket, actor=customer, score=4, now=ticket.created_at + 70 * M)
        usecases.tickets_delete(ticket_ids=[gone.pk])
        assert metrics.satisfaction(FORTNIGHT).resolved_tickets == 1
        assert metrics.satisfaction(FORTNIGHT).ratings == 1
        assert_rollup_equals_live(FORTNIGHT, now=NOW)
        assert not TicketFact.objects.filter(ticket_id=gone.pk).exists()

    def test_a_priority_change_moves_the_ticket_between_rows(self, customer, agent):
        ticket = open_ticket(customer, datetime(2026, 3, 3, 9, 0, tzinfo=UTC), priority="P3")
        usecases.change(ticket=ticket, actor=agent, now=ticket.created_at + M, priority="P0")
        rows = {r.priority: r.tickets for r in metrics.sla_by_priority(FORTNIGHT, now=NOW)}
        assert rows == {"P0": 1, "P1": 0, "P2": 0, "P3": 0}


class TestRebuild:
    def test_bulk_loaded_tickets_count_after_a_rebuild_only(self, customer, agent):
        from tickets import demo

        demo.load_tickets_create(12, customers=[customer], agents=[agent], now=NOW, seed=3)
        assert TicketFact.objects.count() == 0  # the loader bypasses the use cases
        call_command("reports_rebuild", stdout=open("/dev/null", "w"))  # noqa: SIM115
        assert TicketFact.objects.count() == 12
        f = ReportFilters(start=date(2025, 9, 1), end=date(2026, 3, 20))
        assert_rollup_equals_live(f, now=NOW)

    def test_rebuild_is_repeatable(self, customer, agent):
        build_p1_fortnight(customer, agent)
        maintained = rollup_tables()
        assert rollup.rollup_rebuild()["facts"] == 7
        rollup.rollup_rebuild()
        assert rollup_tables() == maintained


class TestExactPercentiles:
    def desk(self, customer, agent, seconds: list[float]) -> None:
        at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        for i, s in enumerate(seconds):
            ticket = open_ticket(customer, at + i * M, priority=("P2", "P3")[i % 2])
            reply(ticket, agent, ticket.created_at + timedelta(seconds=s))

    def test_ranks_that_straddle_buckets_interpolate_like_percentile_cont(self, customer, agent):
        # Spread over many buckets (~10 % wide each): 3 s to about 3 days.
        values = [3 * 1.37**k for k in range(30)]
        self.desk(customer, agent, values)
        response, _ = metrics.duration_percentiles(FORTNIGHT)
        ordered = sorted(round(v, 3) for v in values)
        for p in (0.5, 0.9):
            position = p * (len(ordered) - 1)
            low = int(position)
            expected = ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)
            assert response[None][p] == pytest.approx(expected, abs=1e-3)
        p3 = sorted(round(v, 3) for v in values[1::2])
        assert response["P3"][0.5] == pytest.approx((p3[7] + p3[7]) / 2 if len(p3) % 2 else (p3[6] + p3[7]) / 2)

    def test_many_values_in_one_bucket(self, customer, agent):
        values = [600 + i * 0.5 for i in range(21)]  # all in one bucket
        self.desk(customer, agent, values)
        response, _ = metrics.duration_percentiles(FORTNIGHT)
        assert response[None][0.5] == pytest.approx(605.0)
        assert response[None][0.9] == pytest.approx(609.0)

    def test_one_value(self, customer, agent):
        self.desk(customer, agent, [42])
        response, resolution = metrics.duration_percentiles(FORTNIGHT)
        assert response == {"P2": {0.5: 42.0, 0.9: 42.0}, None: {0.5: 42.0, 0.9: 42.0}}
        assert resolution == {}

    def test_a_tier_filter_reads_the_facts_and_agrees(self, customer, agent):
        self.desk(customer, agent, [60, 120, 180, 240, 300])
        f = ReportFilters(start=FORTNIGHT.start, end=FORTNIGHT.end, tier=1)
        response, _ = metrics.duration_percentiles(f)
        assert response[None][0.5] == pytest.approx(180)
        assert response[None][0.9] == pytest.approx(276)


class TestQueryCounts:
    """The scorecard and the summary API read the rollup in a fixed number of queries."""

    # Each includes the incident figures' four and the uptime per component's one (reports.incident_metrics).
    SCORECARD_QUERIES = 17
    SUMMARY_QUERIES = 12

    def desk(self, customer, agent, n: int) -> None:
        start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        for i in range(n):
            at = start + timedelta(hours=5 * i)
            ticket = open_ticket(customer, at, priority=("P0", "P1", "P2", "P3")[i % 4])
            if i % 3:
                reply(ticket, agent, at + timedelta(minutes=20 + i))
            if i % 2:
                resolve(ticket, agent, at + timedelta(hours=3))
                usecases.rate(ticket=ticket, actor=customer, score=1 + i % 5, now=at + timedelta(hours=4))
        sweep(NOW)

    @pytest.mark.parametrize("n", [4, 40])
    def test_the_scorecard(self, customer, agent, n, django_assert_num_queries):
        self.desk(customer, agent, n)
        metrics.scorecard(FORTNIGHT, now=NOW)  # warm the policy book
        with django_assert_num_queries(self.SCORECARD_QUERIES):
            metrics.scorecard(FORTNIGHT, now=NOW)

    @pytest.mark.parametrize("n", [4, 40])
    def test_the_summary_api(
        self, api_client_for, customer, agent, manager, n, django_assert_num_queries, time_machine
    ):
        time_machine.move_to(NOW, tick=False)
        self.desk(customer, agent, n)
        api = api_client_for(manager)
        url = "/api/v1/reports/summary/?from=2026-03-02&to=2026-03-15"
        api.get(url)
        with django_assert_num_queries(self.SUMMARY_QUERIES):
            assert api.get(url).status_code == 200

    def test_a_filtered_scorecard_too(self, customer, agent, django_assert_max_num_queries):
        self.desk(customer, agent, 12)
        f = ReportFilters(
            start=FORTNIGHT.start, end=FORTNIGHT.end, category="other", agent=make_user("x@sofacoverpro.com", "agent")
        )
        metrics.scorecard(f, now=NOW)
        with django_assert_max_num_queries(self.SCORECARD_QUERIES + 2):
            metrics.scorecard(f, now=NOW)


class TestIndexWalks:
    """SQLite's planner would sort every fact of the range; the reads name the indexes they are built for."""

    def plan(self, call) -> str:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        if connection.vendor != "sqlite":
            pytest.skip("INDEXED BY is SQLite's; PostgreSQL picks the index itself")
        with CaptureQueriesContext(connection) as queries:
            call()
        plans = []
        with connection.cursor() as cursor:
            for query in queries.captured_queries:
                cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                plans.append(" ".join(str(row[-1]) for row in cursor.fetchall()))
        return "\n".join(plans)

    def test_rank_reads_walk_the_bucket_index(self, customer, agent):
        TestExactPercentiles().desk(customer, agent, [60, 120, 180])
        assert "fact_response_rank_idx" in self.plan(lambda: metrics.duration_percentiles(FORTNIGHT))

    def test_worst_offenders_walk_the_lateness_indexes(self, customer, agent):
        build_p1_fortnight(customer, agent)
        plan = self.plan(lambda: metrics.worst_offenders(FORTNIGHT, now=NOW))
        assert "fact_response_late_idx" in plan
        assert "fact_resolution_late_idx" in plan
