"""``manage.py bench_monitors``: its measuring parts on a handful of monitors (the real run is ``make bench``)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bench.management.commands import bench_monitors as bench
from monitors.models import CheckResult, HourRollup, MinuteRollup, Monitor
from tests.tickets.factories import T0

pytestmark = pytest.mark.django_db


class TestSchedule:
    def test_the_line_reports_lateness_and_that_each_slot_ran_once(self):
        pks = bench.monitors_replace(4, interval=30, port=9, first_slot=T0)
        for n, pk in enumerate(pks):
            for slot in range(2):
                CheckResult.objects.create(
                    monitor_id=pk, scheduled_at=T0 + timedelta(seconds=30 * slot + n), late_ms=100 * (n + 1), ok=True
                )
        hits = Counter({f"/m/{n}": 2 for n in range(4)})
        (line,) = bench.schedule_rows(
            monitors=4, runners=2, interval=30, window=(T0, T0 + timedelta(seconds=60)), hits=hits, pks=pks
        )
        cells = dict(zip(bench.SCHEDULE_HEADER, line, strict=True))
        assert (cells["slots due"], cells["checks run"], cells["per monitor"]) == ("8", "8", "2-2")
        assert cells["each once"] == "yes"
        assert cells["late max ms"] == "400"
        assert cells["met?"] == "yes"

    def test_a_slot_fetched_twice_is_reported(self):
        pks = bench.monitors_replace(1, interval=30, port=9, first_slot=T0)
        CheckResult.objects.create(monitor_id=pks[0], scheduled_at=T0, ok=True)
        (line,) = bench.schedule_rows(
            monitors=1,
            runners=2,
            interval=30,
            window=(T0, T0 + timedelta(seconds=30)),
            hits=Counter({"/m/0": 2}),
            pks=pks,
        )
        cells = dict(zip(bench.SCHEDULE_HEADER, line, strict=True))
        assert cells["each once"].startswith("NO")
        assert cells["met?"] == "no"

    def test_earlier_bench_monitors_are_replaced(self):
        bench.monitors_replace(3, interval=30, port=9, first_slot=T0)
        bench.monitors_replace(2, interval=30, port=9, first_slot=T0)
        assert Monitor.objects.filter(name__startswith=bench.PREFIX).count() == 2


class TestStorage:
    def test_three_simulated_days_level_off_at_the_raw_retention(self, settings):
        settings.MONITOR_RAW_RETENTION_HOURS = 24
        lines = bench.simulate_storage(monitors=2, days=3)
        raw = [int(line[1].replace(",", "")) for line in lines]
        assert raw[0] == raw[1] == raw[2] <= 2 * 120 * 25  # a day of results, and never more
        assert HourRollup.objects.count() == 3 * 24 * 2 - 2
        assert MinuteRollup.objects.exists()

    def test_the_steady_state_at_1000_monitors(self):
        assert bench.steady_state(1000) == {"raw": 5_760_000, "minutes": 10_080_000, "hours": 2_400_000}
