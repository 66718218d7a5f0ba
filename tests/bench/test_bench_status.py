"""``manage.py bench_status``: the loader, the measuring part, and never touching the developer's database."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bench.management.commands import bench_status
from incidents import status
from incidents.models import Incident, IncidentEvent
from tests.incidents.status_helpers import NOW

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("bench_status", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


class TestLoad:
    def test_writes_the_history_as_the_services_would_and_replaces_it_next_time(self):
        assert bench_status.bench_incidents_load(count=40, now=NOW) == 41
        assert bench_status.bench_incidents_load(count=40, now=NOW) == 41
        incidents = Incident.objects.filter(title__startswith=bench_status.BENCH_PREFIX)
        assert incidents.count() == 41
        [open_one] = incidents.filter(resolved_at__isnull=True)
        assert open_one.status == "identified"
        for incident in incidents.exclude(pk=open_one.pk):
            assert incident.status == "resolved"
            assert NOW - incident.started_at <= timedelta(days=status.HISTORY_DAYS)
            assert incident.resolved_at is not None
            assert incident.resolved_at > incident.started_at
            assert incident.components.exists()
            kinds = list(incident.events.order_by("at").values_list("kind", "public"))
            assert kinds == [("declared", True), ("status", True), ("note", False), ("resolved", True)]
        assert {i.severity for i in incidents} == {"P0", "P1", "P2", "P3"}
        assert IncidentEvent.objects.filter(incident__in=incidents).count() == 40 * 4 + 3

    def test_the_page_shows_it(self):
        bench_status.bench_incidents_load(count=200, now=NOW)
        data = status.snapshot_build(now=NOW)
        assert len(data["incidents"]) == 1
        assert sum(len(day["incidents"]) for day in data["history"]) > 20
        assert any(day["state"] == "major_outage" for row in data["components"] for day in row["days"])


class TestMeasure:
    def test_times_the_doors_and_the_cold_build_with_numbers(self, settings):
        settings.DESK_BASE_URL = "http://testserver"
        bench_status.bench_incidents_load(count=30, now=NOW)
        rows = bench_status.measure(repeat=2)
        assert [row.what for row in rows] == [
            "/status/ (from the snapshot)",
            "/status/ asking the cache every time",
            "/api/v1/status/ (from the snapshot)",
            "/status/feed.atom (from the snapshot)",
            "snapshot cold build",
            "/status/ after a change (build + render)",
        ]
        for row in rows:
            assert row.error == "", row.what
            assert 0 < row.p50_ms <= row.p95_ms
        assert rows[0].target == bench_status.PAGE_TARGET
        assert [row.queries for row in rows[:4]] == [(0, 0)] * 4  # served from the snapshot
        assert rows[4].queries == rows[5].queries == (7, 7)  # the uptime checks' counts: one more
        lines = bench_status.render_table(rows).splitlines()
        assert [cell.strip() for cell in lines[0].split("|")] == bench_status.HEADER

    def test_the_target_is_met_or_not_by_the_p50(self):
        fast = bench_status.Row("page", target=bench_status.PAGE_TARGET, p50_ms=4.9, p95_ms=9)
        slow = bench_status.Row("page", target=bench_status.PAGE_TARGET, p50_ms=5.1, p95_ms=9)
        other = bench_status.Row("build", p50_ms=300, p95_ms=400)
        assert (fast.met, slow.met, other.met) == ("yes", "no", "-")
        assert bench_status.summary([fast, slow, other]) == "1 of 2 targets met."

    def test_a_failing_request_is_reported_not_raised(self):
        def boom(n):
            raise RuntimeError("down")

        row = bench_status.timed(bench_status.Row("x"), boom, repeat=2)
        assert row.error == "error: RuntimeError"
        assert row.met == "no"


class TestCommand:
    def test_runs_end_to_end_on_a_small_history(self, monkeypatch):
        monkeypatch.setenv("DATABASE_URL", "set-by-the-test")
        monkeypatch.setenv(bench_status.Command.child_env, "1")
        out = run("--incidents", "20", "--repeat", "1")
        assert "Loaded 21 incidents" in out
        assert "/status/ (from the snapshot)" in out
        assert "targets met." in out

    @pytest.mark.parametrize("args", [["--incidents", "-1"], ["--repeat", "0"]])
    def test_refuses_nonsense_numbers(self, args):
        with pytest.raises(CommandError):
            run(*args)
