"""bench_reports' set-based seeding: what it adds is what the services would have recorded."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.models import F

from bench.management.commands import bench_reports
from escalation.models import SlaBreach
from reports.filters import ReportFilters
from surveys.models import Rating
from tests.reports.test_rollup import assert_rollup_equals_live
from tests.reports.world import NOW
from tests.tickets.factories import make_user
from tickets import demo
from tickets.models import Ticket, reference_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(db):
    """As in the reports' tests: the agent works Tier 3, so every ticket's tier is theirs."""
    return make_user("tier3@sofacoverpro.com", "agent", tier=3, first_name="Tina")


@pytest.fixture
def loaded(customer, agent):
    demo.load_tickets_create(60, customers=[customer], agents=[agent], now=NOW, seed=11)


class TestEnrich:
    def test_every_late_first_response_gets_one_breach_record(self, loaded):
        bench_reports.enrich(write=lambda _: None)
        late = Ticket.objects.filter(first_responded_at__gt=F("first_response_due_at"))
        assert late.exists()
        assert set(SlaBreach.objects.values_list("ticket_id", flat=True)) == set(late.values_list("pk", flat=True))
        bench_reports.enrich(write=lambda _: None)  # a second run adds nothing
        assert SlaBreach.objects.count() == late.count()

    def test_five_in_six_resolved_tickets_are_rated_by_id(self, loaded):
        bench_reports.enrich(write=lambda _: None)
        resolved = Ticket.objects.filter(resolved_at__isnull=False)
        expected = {pk: (3, 4, 5, 5, 4)[pk % 5] for pk in resolved.values_list("pk", flat=True) if pk % 6}
        assert dict(Rating.objects.values_list("ticket_id", "score")) == expected
        assert not Rating.objects.exclude(created_at=F("ticket__resolved_at")).exists()

    def test_the_rebuilt_rollup_equals_the_live_figures(self, loaded):
        bench_reports.enrich(write=lambda _: None)
        lines: list[str] = []
        bench_reports.rebuild(write=lines.append)
        assert "60 facts" in lines[0]
        assert_rollup_equals_live(ReportFilters(start=date(2025, 9, 1), end=NOW.date()), now=NOW)


class TestCopiedReferences:
    @pytest.mark.parametrize(
        ("pk", "reference"), [(42, "SCP-000042"), (999_999, "SCP-999999"), (1_000_001, "SCP-1000001")]
    )
    def test_ids_past_a_million_keep_every_digit(self, customer, pk, reference):
        ticket = Ticket.objects.create(
            pk=pk, subject="s", description="d", requester=customer, created_at=NOW, updated_at=NOW
        )
        assert ticket.reference == reference == reference_for(pk)
        assert Ticket.objects.get(pk=pk).reference == reference
