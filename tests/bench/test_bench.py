"""``manage.py bench``: the desk it seeds, the measuring part, and never touching the developer's database."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import demo as account_demo
from bench import copying, harness
from bench.management.commands import bench
from support import usecases
from tests.tickets.factories import T0
from tickets import demo
from tickets.models import Ticket, reference_for

pytestmark = pytest.mark.django_db

# An empty URLconf: the bench must report endpoints that do not exist yet, not crash.
urlpatterns: list = []


def run(*args: str, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def bench_desk():
    customer, agent = bench.bench_people_ensure()
    out = StringIO()
    bench.bench_data_ensure(tickets=30, customer=customer, agent=agent, now=T0, write=out.write)
    return customer, agent


ENDPOINTS = [
    "admin queue, first page",
    "API ticket list, first page",
    "API ticket detail",
    "portal my tickets",
    "console ticket page",
    "API ticket creation",
]


class TestBenchMeasure:
    def test_measures_every_endpoint_with_numbers(self, bench_desk):
        customer, agent = bench_desk
        rows = bench.measure(customer=customer, agent=agent, repeat=2)

        assert [row.endpoint for row in rows] == ENDPOINTS
        for row in rows:
            assert (row.status, row.error) == (None, ""), row.endpoint
            assert row.p50_ms is not None
            assert row.p95_ms is not None
            assert row.queries is not None
            assert 0 < row.p50_ms <= row.p95_ms
            low, high = row.queries
            assert 0 < low <= high
        assert (rows[-1].rate_per_s or 0) > 0
        table = bench.render_table(rows)
        lines = table.splitlines()
        assert lines[0].split(" | ")[0].strip() == "endpoint"
        assert [c.strip() for c in lines[0].split("|")] == bench.HEADER
        for line, row in zip(lines[2:], rows, strict=True):
            cells = [c.strip() for c in line.split("|")]
            assert cells[0] == row.endpoint
            float(cells[1])
            float(cells[2])
            assert re.fullmatch(r"\d+(-\d+)?", cells[3])
            assert cells[5].split()[0] in {"yes", "no"}
            assert row.cpu_p50_ms is not None
            assert 0 < float(cells[6]) == round(row.cpu_p50_ms, 1)

    def test_measures_the_frameworks_floor_beside_our_endpoints(self, bench_desk):
        customer, agent = bench_desk
        ours = bench.measure(customer=customer, agent=agent, repeat=2)
        floor_rows = bench.measure_floor(customer=customer, agent=agent, repeat=2)

        assert [row.endpoint for row in floor_rows] == [what for what, _ in bench.FLOOR]
        assert [row.target for row in floor_rows] == [
            "admin queue, first page",
            "console ticket page",
            "API ticket creation",
        ]
        for row in floor_rows:
            assert (row.status, row.error) == (None, ""), row.endpoint
            assert row.p50_ms is not None
            assert row.queries is not None
            assert 0 < row.p50_ms <= (row.p95_ms or 0)
        changelist, create = floor_rows[0], floor_rows[2]
        # Django's stock changelist counts every ticket: one statement more than a page of rows needs.
        assert changelist.queries is not None
        assert changelist.queries[0] >= 4
        # The stock create saves the ticket alone: no timeline, acknowledgment or reports rows.
        stock = Ticket.objects.filter(subject__startswith=f"{bench.BENCH_SUBJECT_PREFIX} stock #")
        assert stock.count() == 2 + bench.WARM_UP
        assert not stock.filter(events__isnull=False).exists()
        assert create.queries is not None
        assert ours[-1].queries is not None
        assert create.queries[1] < ours[-1].queries[0]
        assert Ticket.objects.filter(subject__startswith=bench.BENCH_SUBJECT_PREFIX, events__isnull=False).exists()
        table = bench.render_floor(floor_rows, ours).splitlines()
        assert [c.strip() for c in table[0].split("|")] == bench.FLOOR_HEADER
        for line, row in zip(table[2:], floor_rows, strict=True):
            cells = [c.strip() for c in line.split("|")]
            assert cells[0] == row.endpoint
            mine = next(o for o in ours if o.endpoint == row.target)
            assert cells[5] == f"{mine.p50_ms:.1f}"

    def test_counts_the_statements_django_sends(self, bench_desk, client):
        """The benches' cheap counter sees what CaptureQueriesContext sees, outside transactions, and times them."""
        _, agent = bench_desk
        client.force_login(agent)
        counter = harness.Statements()
        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(counter):
            assert client.get("/admin/tickets/ticket/").status_code == 200
        assert counter.count == len(captured.captured_queries) > 0
        assert counter.seconds > 0

    def test_creations_use_unique_subjects(self, bench_desk):
        customer, agent = bench_desk
        bench.measure(customer=customer, agent=agent, repeat=2)

        subjects = list(
            Ticket.objects.filter(subject__startswith=bench.BENCH_SUBJECT_PREFIX).values_list("subject", flat=True)
        )
        assert len(subjects) == 2 * 10 + bench.WARM_UP
        assert len(set(subjects)) == len(subjects)
        assert Ticket.objects.filter(subject__in=subjects, requester=customer).count() == len(subjects)

    def test_reports_the_status_of_an_endpoint_that_does_not_exist(self, bench_desk, settings):
        settings.ROOT_URLCONF = __name__
        customer, agent = bench_desk
        rows = bench.measure(customer=customer, agent=agent, repeat=2)

        assert [row.endpoint for row in rows] == ENDPOINTS
        # 404, or 500 where the error page itself needs a URL that is gone: reported either way.
        assert all(row.status is not None and row.status >= 400 for row in rows)
        assert not any(row.met for row in rows)
        lines = bench.render_table(rows).splitlines()[2:]
        for line, row in zip(lines, rows, strict=True):
            assert [c.strip() for c in line.split("|")][:2] == [row.endpoint, f"HTTP {row.status}"]

    def test_met_follows_the_targets(self):
        fast = bench.Row("x", "p50", p50_ms=10, p95_ms=20, queries=(3, 3), met=True)
        uneven = bench.Row("y", "q", p50_ms=10, p95_ms=20, queries=(3, 5))
        assert fast.cells()[3:] == ["3", "p50", "yes", "-"]
        assert uneven.cells()[3] == "3-5"
        assert not uneven.queries_constant

    def test_percentiles_interpolate(self):
        assert harness.percentile([1, 2, 3, 4], 50) == 2.5
        assert harness.percentile([5], 95) == 5
        assert harness.percentile(list(range(101)), 95) == 95


class TestBenchData:
    def test_tops_up_to_the_wanted_count_and_gives_the_bench_customer_its_share(self):
        customer, agent = bench.bench_people_ensure()
        write = StringIO().write
        assert bench.bench_data_ensure(tickets=40, customer=customer, agent=agent, now=T0, write=write) == 40
        assert Ticket.objects.filter(requester=customer).count() == 40
        assert bench.bench_data_ensure(tickets=40, customer=customer, agent=agent, now=T0, write=write) == 0
        assert Ticket.objects.count() == 40

    def test_removes_the_previous_runs_creations(self):
        customer, agent = bench.bench_people_ensure()
        usecases.file_ticket(requester=customer, subject=f"{bench.BENCH_SUBJECT_PREFIX} old", description="x", now=T0)
        out = StringIO()
        bench.bench_data_ensure(tickets=3, customer=customer, agent=agent, now=T0, write=out.write)
        assert not Ticket.objects.filter(subject__startswith=bench.BENCH_SUBJECT_PREFIX).exists()
        assert Ticket.objects.count() == 3
        assert "Removed 1 tickets" in out.getvalue()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the copying loader is for PostgreSQL desks")
class TestCopyingPastTheLoadLimit:
    def test_copies_tickets_with_their_threads_but_not_the_bench_customers(self):
        customer, agent = bench.bench_people_ensure()
        others = account_demo.load_customers_ensure(3)
        demo.load_tickets_create(4, customers=[customer], agents=[agent], now=T0)
        demo.load_tickets_create(8, customers=others, agents=[agent], now=T0, seed=1)
        loaded = list(Ticket.objects.order_by("pk"))
        out = StringIO()

        added = copying.tickets_copy(tickets=25, exclude_requester_id=customer.pk, write=out.write)

        assert added == 13  # 8, then 5 of the first copies' sources again
        assert "Copied 13 tickets" in out.getvalue()
        copies = list(Ticket.objects.order_by("pk")[12:])
        assert len(copies) == 13
        assert customer.pk not in {t.requester_id for t in copies}
        pks = list(Ticket.objects.order_by("pk").values_list("pk", "reference"))
        assert [reference for _, reference in pks] == [reference_for(pk) for pk, _ in pks]

        def shape(ticket: Ticket) -> tuple:
            return (ticket.subject, ticket.status, ticket.priority, ticket.created_at, ticket.requester_id)

        threads = {shape(t): (t.messages.count(), t.events.count()) for t in loaded}
        for copy in copies:
            assert threads[shape(copy)] == (copy.messages.count(), copy.events.count())
            assert copy.messages.count() > 0
        filed = usecases.file_ticket(requester=customer, subject="After the copies", description="d", now=T0)
        assert filed.pk > copies[-1].pk  # the identity moved past the copied ids
