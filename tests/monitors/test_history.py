"""The history of checks stays compact (rollups, pruning) and still answers uptime, MTTD and MTTR."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from incidents.models import Incident
from monitors import retention, selectors
from monitors.models import CheckResult, HourRollup, MinuteRollup, Monitor, RollupMark

from .conftest import T0, make_monitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def monitor(storefront) -> Monitor:
    return make_monitor(name="Storefront home", kind="http", url="http://127.0.0.1:9/", component=storefront)


def checks(monitor: Monitor, *, start: datetime, minutes: int, fail_every: int = 0, latency: int = 100) -> None:
    """Two checks a minute from ``start``; every ``fail_every``-th fails (0: none)."""
    rows = []
    for n in range(minutes * 2):
        failed = bool(fail_every) and n % fail_every == 0
        rows.append(
            CheckResult(
                monitor=monitor,
                scheduled_at=start + timedelta(seconds=30 * n),
                ok=not failed,
                latency_ms=latency + n % 2,
            )
        )
    CheckResult.objects.bulk_create(rows)


class TestRollups:
    def test_minutes_sum_the_raw_results_once_the_grace_has_passed(self, monitor):
        checks(monitor, start=T0, minutes=10, fail_every=4)
        written = retention.rollup_minutes(now=T0 + timedelta(minutes=10, seconds=300))
        assert written == 10
        first = MinuteRollup.objects.get(monitor=monitor, start=T0)
        assert (first.checks, first.failures) == (2, 1)
        assert (first.latency_count, first.latency_sum_ms, first.latency_max_ms) == (2, 201, 101)
        assert RollupMark.objects.get(resolution="minute").done_until == T0 + timedelta(minutes=10)

    def test_a_minute_inside_the_grace_waits(self, monitor):
        checks(monitor, start=T0, minutes=10)
        retention.rollup_minutes(now=T0 + timedelta(minutes=10))
        assert MinuteRollup.objects.count() == 5  # the last 5 minutes are inside the 300 s grace

    def test_rolling_up_again_changes_nothing(self, monitor):
        checks(monitor, start=T0, minutes=10, fail_every=3)
        later = T0 + timedelta(hours=1)
        retention.rollup_minutes(now=later)
        before = list(MinuteRollup.objects.order_by("start").values_list("start", "checks", "failures"))
        RollupMark.objects.update(done_until=T0)
        retention.rollup_minutes(now=later)
        assert list(MinuteRollup.objects.order_by("start").values_list("start", "checks", "failures")) == before

    def test_hours_sum_their_minutes(self, monitor):
        checks(monitor, start=T0, minutes=120, fail_every=10)
        retention.rollup_and_prune(now=T0 + timedelta(hours=3))
        hours = list(HourRollup.objects.order_by("start").values_list("start", "checks", "failures", "latency_max_ms"))
        assert hours == [(T0, 120, 12, 101), (T0 + timedelta(hours=1), 120, 12, 101)]

    def test_metrics_roll_up_into_the_hourly_average_the_baseline_reads(self, monitor):
        CheckResult.objects.bulk_create(
            CheckResult(monitor=monitor, scheduled_at=T0 + timedelta(minutes=5 * n), ok=True, value_1=v, value_2=0.03)
            for n, v in enumerate([30, 40, 50] * 4)
        )
        retention.rollup_and_prune(now=T0 + timedelta(hours=2))
        hour = HourRollup.objects.get(monitor=monitor, start=T0)
        assert (hour.value_count, hour.value_1_sum / hour.value_count) == (12, 40)


class TestPruning:
    def test_nothing_is_pruned_before_it_is_rolled_up(self, monitor):
        checks(monitor, start=T0 - timedelta(days=3), minutes=10)
        retention.prune(now=T0)
        assert CheckResult.objects.count() == 20

    def test_each_history_keeps_its_retention(self, monitor):
        old = T0 - timedelta(days=120)
        HourRollup.objects.create(monitor=monitor, start=old, checks=120)
        checks(monitor, start=T0 - timedelta(days=8), minutes=60)
        checks(monitor, start=T0 - timedelta(hours=47), minutes=60)
        result = retention.rollup_and_prune(now=T0)
        assert result.pruned_hours == 1
        # Raw: the 8-day-old hour went (rolled up); the one 47 h old stays.
        assert CheckResult.objects.count() == 120
        # Minutes: those of 8 days ago went (past 7 days, rolled into hours); 47 h ago stay.
        assert MinuteRollup.objects.filter(start__lt=T0 - timedelta(days=7)).count() == 0
        assert MinuteRollup.objects.count() == 60
        assert HourRollup.objects.count() == 2

    def test_storage_stays_bounded_over_a_simulated_week_and_more(self, monitor):
        """One monitor at 30 s for 9 days, simulated 3 hours at a time, the beat's rollup and prune after each."""
        start = T0 - timedelta(days=9)
        peaks = {"raw": 0, "minutes": 0}
        for step in range(9 * 8):
            at = start + timedelta(hours=3 * step)
            checks(monitor, start=at, minutes=180, fail_every=50)
            retention.rollup_and_prune(now=at + timedelta(hours=3))
            peaks["raw"] = max(peaks["raw"], CheckResult.objects.count())
            peaks["minutes"] = max(peaks["minutes"], MinuteRollup.objects.count())
        assert peaks["raw"] <= 120 * (48 + 3)  # 48 h of checks, and the step just written
        assert CheckResult.objects.count() <= 120 * 49
        assert peaks["minutes"] <= 60 * (7 * 24 + 3)
        assert MinuteRollup.objects.count() <= 60 * (7 * 24 + 1)
        assert HourRollup.objects.count() == 9 * 24 - 1  # the last hour is still in minutes


class TestUptime:
    def test_the_share_of_passed_checks_is_the_same_before_and_after_rollup(self, monitor, storefront):
        now = T0 + timedelta(days=3)
        checks(monitor, start=T0, minutes=3 * 24 * 60, fail_every=1000)
        raw = selectors.component_uptime(storefront, days=30, now=now)
        retention.rollup_and_prune(now=now)
        retention.rollup_and_prune(now=now + timedelta(days=2, hours=1))  # raw gone, minutes and hours
        rolled = selectors.component_uptime(storefront, days=30, now=now)
        assert raw == rolled
        assert raw["checks"] == 3 * 24 * 120
        assert raw["failures"] == 9
        assert raw["uptime_pct"] == pytest.approx(99.896, abs=0.001)
        assert raw["met"] is False  # below 99.9 %

    def test_the_daily_series_has_one_entry_per_day_for_the_status_page(self, monitor, storefront):
        day_one = datetime(2026, 3, 1, tzinfo=UTC)  # London is on UTC in March, before the clocks change
        checks(monitor, start=day_one, minutes=24 * 60)
        checks(monitor, start=day_one + timedelta(days=1), minutes=60, fail_every=4)
        series = selectors.component_uptime_days(storefront, days=90, now=day_one + timedelta(days=1, hours=12))
        assert len(series) == 90
        assert series[-1]["date"] == date(2026, 3, 2)
        assert series[-2] == {"date": date(2026, 3, 1), "uptime_pct": 100.0, "worst_state": "up"}
        assert series[-1] == {"date": date(2026, 3, 2), "uptime_pct": 75.0, "worst_state": "down"}
        assert series[0] == {"date": date(2025, 12, 3), "uptime_pct": None, "worst_state": "unknown"}

    def test_only_http_checks_of_the_component_count(self, monitor, storefront):
        other = make_monitor(kind="error_rate", component=storefront)
        checks(other, start=T0, minutes=10, fail_every=1)
        checks(monitor, start=T0, minutes=10)
        assert selectors.component_uptime(storefront, days=1, now=T0 + timedelta(hours=1))["uptime_pct"] == 100.0

    @pytest.mark.parametrize(
        ("pct", "state"), [(None, "unknown"), (100.0, "up"), (99.95, "degraded"), (99.9, "degraded"), (99.0, "down")]
    )
    def test_a_days_worst_state(self, pct, state):
        assert selectors.worst_state(pct) == state


class TestBaseline:
    def test_the_same_local_hour_across_a_clock_change(self, monitor):
        """London moves to BST on 29 March 2026: 10:20 BST on 1 April compares with 10:00 GMT the weeks before."""
        at = datetime(2026, 4, 1, 9, 20, tzinfo=UTC)  # 10:20 BST
        for week in range(1, 5):
            before = datetime(2026, 4, 1, 10, 0, tzinfo=UTC) - timedelta(weeks=week)  # 10:00 GMT
            HourRollup.objects.create(monitor=monitor, start=before, value_count=1, value_1_sum=100)
            HourRollup.objects.create(monitor=monitor, start=before - timedelta(hours=1), value_count=1, value_1_sum=1)
        baseline = selectors.business_baseline(monitor, at=at)
        assert (baseline.orders, baseline.weeks) == (100, 4)


class TestIncidentTiming:
    def test_mttd_over_all_and_mttr_over_resolved_p0_p1(self, agent):
        def incident(severity: str, detect: int, resolve: int | None) -> None:
            started = T0 - timedelta(hours=3)
            Incident.objects.create(
                severity=severity,
                title="x",
                impact="x",
                started_at=started,
                detected_at=started + timedelta(minutes=detect),
                declared_at=started + timedelta(minutes=detect),
                updated_at=started,
                status="resolved" if resolve is not None else "investigating",
                resolved_at=started + timedelta(minutes=resolve) if resolve is not None else None,
            )

        incident("P0", 2, 60)
        incident("P1", 4, 120)
        incident("P2", 6, 30)
        incident("P1", 8, None)
        timing = selectors.incident_timing(since=T0 - timedelta(days=1), until=T0)
        assert timing["incidents"] == 4
        assert timing["mttd_seconds"] == 5 * 60
        assert timing["mttd_met"] is False  # 5 min is not under 5 min
        assert (timing["resolved_p0_p1"], timing["mttr_seconds"], timing["mttr_met"]) == (2, 90 * 60, True)
