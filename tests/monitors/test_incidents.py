"""Monitors open incidents: outages, recovery, latency, a conversion drop, an error-rate spike, flapping.

Each test runs the real runner (claim, thread pool, HTTP to a loopback shop the test turns up and
down, the use case per result) with injected time: one pass per call of ``run``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db.models import Count

from incidents.models import Incident, IncidentEvent
from monitors import services
from monitors.models import CheckResult, HourRollup, Monitor
from monitors.retention import floor_hour
from notifications.models import Notification
from support import usecases

from .conftest import T0, fresh, make_monitor, run

pytestmark = pytest.mark.django_db
Status = Incident.Status


def status_events(incident: Incident) -> list[str]:
    kinds = (IncidentEvent.Kind.DECLARED, IncidentEvent.Kind.STATUS)
    return list(incident.events.filter(kind__in=kinds).values_list("status", flat=True))


class TestStorefrontOutage:
    @pytest.fixture
    def monitor(self, target, storefront):
        return make_monitor(name="Storefront home", kind="http", url=target.url("/"), component=storefront)

    def test_defaults_to_a_p0_every_30_s(self, monitor):
        assert (monitor.severity, monitor.interval_seconds, monitor.failures_to_open) == ("P0", 30, 2)

    def test_two_failed_checks_open_a_p0_within_60_s_of_the_first_with_mttd(self, monitor, target, storefront):
        target.down()
        first = run(T0)
        assert (first.claimed, first.failed, first.opened) == (1, 1, 0)
        assert not Incident.objects.exists()  # one failed check is not an outage

        second = run(T0, 30)
        assert second.opened == 1
        incident = Incident.objects.get()
        assert incident.severity == "P0"
        assert incident.source == Incident.Source.MONITOR
        assert incident.monitor_key == f"monitor:{monitor.pk}"
        assert incident.status == Status.INVESTIGATING
        assert list(incident.components.all()) == [storefront]
        assert incident.title == "Storefront is unavailable"
        assert "HTTP 503 (expected 200)" in incident.impact
        # started = the first failed check; detected = when the second fired the rule.
        assert T0 <= incident.started_at < T0 + timedelta(seconds=1)
        assert T0 + timedelta(seconds=30) <= incident.detected_at < T0 + timedelta(seconds=31)
        mttd = incident.detected_at - incident.started_at
        assert timedelta(seconds=29) < mttd < timedelta(seconds=60)
        assert fresh(monitor).state == Monitor.State.DOWN

    def test_the_desk_hears_of_it_on_launch_monitoring_and_the_dashboards(self, monitor, target, manager):
        target.down()
        run(T0)
        run(T0, 30)
        alerts = Notification.objects.filter(kind=Notification.Kind.SYSTEM)
        assert set(alerts.values_list("channel", "recipient")) == {
            ("slack", "#launch-monitoring"),
            ("dashboard", manager.email),
        }
        assert {alert.subject for alert in alerts} == {"Monitor down: Storefront home [P0]"}

    def test_recovery_for_two_checks_moves_it_to_monitoring_with_a_public_update(self, monitor, target):
        target.down()
        run(T0)
        run(T0, 30)
        target.up()
        run(T0, 60)
        incident = Incident.objects.get()
        assert incident.status == Status.INVESTIGATING  # one passed check is not a recovery
        result = run(T0, 90)
        assert result.recovered == 1
        incident.refresh_from_db()
        assert incident.status == Status.MONITORING
        assert incident.monitoring_at is not None
        update = incident.events.get(kind=IncidentEvent.Kind.STATUS)
        assert update.public
        assert "working normally since" in update.body
        assert fresh(monitor).state == Monitor.State.UP
        assert Notification.objects.filter(subject__startswith="Monitor recovered: Storefront home").exists()

    def test_a_second_outage_updates_the_open_incident_instead_of_opening_another(self, monitor, target):
        target.down()
        run(T0)
        run(T0, 30)
        target.up()
        run(T0, 60)
        run(T0, 90)
        target.down()
        run(T0, 120)
        run(T0, 150)
        incident = Incident.objects.get()
        assert incident.status == Status.INVESTIGATING
        assert status_events(incident) == [Status.INVESTIGATING, Status.MONITORING, Status.INVESTIGATING]

    def test_a_failing_monitor_whose_incident_is_still_investigated_adds_no_noise(self, monitor, target):
        target.down()
        for n in range(6):
            run(T0, 30 * n)
        incident = Incident.objects.get()
        assert incident.events.count() == 1  # the declaration: nothing per further failed check

    def test_after_the_desk_resolved_it_a_new_outage_opens_a_new_incident(self, monitor, target, agent):
        target.down()
        run(T0)
        run(T0, 30)
        target.up()
        run(T0, 60)
        run(T0, 90)
        usecases.resolve_incident(
            incident=Incident.objects.get(),
            by=agent,
            now=T0 + timedelta(seconds=100),
            what_happened="x",
            resolution="y",
            prevention="z",
        )
        target.down()
        run(T0, 120)
        run(T0, 150)
        assert Incident.objects.count() == 2
        assert Incident.objects.filter(status=Status.INVESTIGATING).count() == 1

    def test_a_closed_port_is_a_failure_too(self, monitor, target):
        target.stop()
        run(T0)
        run(T0, 30)
        assert Incident.objects.get().severity == "P0"
        assert CheckResult.objects.filter(message="could not connect").count() == 2

    def test_a_check_is_not_run_before_its_slot(self, monitor, target):
        run(T0)
        assert run(T0, 29).claimed == 0
        assert run(T0, 30).claimed == 1
        assert target.count("/") == 2


class TestLatency:
    def test_a_performance_probe_over_its_p95_opens_a_p1(self, target, storefront):
        target.route("/slow", delay=0.3)
        monitor = make_monitor(
            name="Storefront speed",
            kind="performance",
            urls=[target.url("/slow"), target.url("/")],
            samples=2,
            p50_threshold_ms=200,
            p95_threshold_ms=250,
            timeout_seconds=5,
            component=storefront,
        )
        assert (monitor.severity, monitor.interval_seconds) == ("P1", 60)
        run(T0)
        run(T0, 60)
        incident = Incident.objects.get()
        assert incident.severity == "P1"
        assert incident.title == "Storefront is slow"
        result = CheckResult.objects.filter(monitor=monitor).latest("scheduled_at")
        assert (result.value_2 or 0) >= 300  # p95
        assert "p95" in result.message

    def test_an_http_check_over_its_latency_threshold_fails(self, target):
        target.route("/slow", delay=0.3)
        monitor = make_monitor(kind="http", url=target.url("/slow"), latency_threshold_ms=200, severity="P1")
        run(T0)
        result = CheckResult.objects.get(monitor=monitor)
        assert not result.ok
        assert result.message.startswith("answered in")
        assert (result.latency_ms or 0) >= 300


class TestConversionDrop:
    @pytest.fixture
    def monitor(self, target):
        return make_monitor(name="Shop metrics", kind="business", url=target.url("/metrics"))

    def seed_history(self, monitor, *, orders: float, conversion: float) -> None:
        """Four weeks of hourly rows, as the rollups leave them (12 checks an hour)."""
        start = floor_hour(T0) - timedelta(weeks=4)
        HourRollup.objects.bulk_create(
            HourRollup(
                monitor=monitor,
                start=start + timedelta(hours=n),
                checks=12,
                value_count=12,
                value_1_sum=12 * orders,
                value_2_sum=12 * conversion,
            )
            for n in range(4 * 7 * 24)
        )

    def test_orders_below_half_the_same_hours_median_open_a_p1(self, monitor, target):
        self.seed_history(monitor, orders=40, conversion=0.03)
        target.route("/metrics", body={"orders": 12, "conversion_rate": 0.028}, content_type="application/json")
        assert (monitor.severity, monitor.interval_seconds, monitor.incident_public) == ("P1", 300, False)
        run(T0)
        run(T0, 300)
        incident = Incident.objects.get()
        assert incident.severity == "P1"
        assert not incident.public  # a business signal, not a status page entry
        assert "orders 12 < 50% of 40" in incident.impact

    def test_a_conversion_drop_alone_opens_it_too(self, monitor, target):
        self.seed_history(monitor, orders=40, conversion=0.03)
        target.route("/metrics", body={"orders": 41, "conversion_rate": 0.01}, content_type="application/json")
        run(T0)
        run(T0, 300)
        assert "conversion 0.01 < 50% of 0.03" in Incident.objects.get().impact

    def test_normal_figures_pass_and_are_kept_for_the_baseline(self, monitor, target):
        self.seed_history(monitor, orders=40, conversion=0.03)
        target.route("/metrics", body={"orders": 35, "conversion_rate": 0.029}, content_type="application/json")
        run(T0)
        result = CheckResult.objects.get(monitor=monitor)
        assert result.ok
        assert (result.value_1, result.value_2) == (35, 0.029)

    def test_without_two_weeks_of_history_it_is_not_judged(self, monitor, target):
        target.route("/metrics", body={"orders": 0, "conversion_rate": 0}, content_type="application/json")
        run(T0)
        result = CheckResult.objects.get(monitor=monitor)
        assert result.ok
        assert result.message == "learning: 0 of 4 weeks of history"

    def test_the_baseline_is_the_same_hour_of_the_same_weekday(self, monitor):
        self.seed_history(monitor, orders=5, conversion=0.01)
        same_hour = [floor_hour(T0) - timedelta(weeks=k) for k in (1, 2, 3, 4)]
        HourRollup.objects.filter(monitor=monitor, start__in=same_hour).update(value_1_sum=12 * 100)
        from monitors import selectors

        baseline = selectors.business_baseline(monitor, at=T0 + timedelta(minutes=20))
        assert (baseline.orders, baseline.weeks) == (100, 4)

    def test_a_missing_field_fails_the_check(self, monitor, target):
        target.route("/metrics", body={"orders": 12}, content_type="application/json")
        run(T0)
        assert CheckResult.objects.get(monitor=monitor).message == "no number at conversion_rate in the JSON body"


class TestErrorRateSpike:
    @pytest.fixture
    def monitor(self, storefront):
        return make_monitor(name="Storefront errors", kind="error_rate", component=storefront)

    def post(self, client, monitor, body, at):
        with time_machine.travel(at, tick=False):
            return client.post(
                f"/api/v1/monitors/{monitor.pk}/events/",
                body,
                content_type="application/json",
                headers={"Authorization": f"Bearer {monitor.token}"},
            )

    def test_errors_above_0_1_percent_of_requests_over_5_minutes_open_a_p1(self, client, monitor):
        assert (monitor.severity, monitor.interval_seconds, monitor.error_rate_threshold) == ("P1", 60, 0.001)
        self.post(client, monitor, {"requests": 10_000}, T0 - timedelta(minutes=2))
        for _ in range(30):  # an error tracker's issue alerts, one error each
            assert self.post(client, monitor, {"action": "triggered", "data": {"event": {}}}, T0).status_code == 202
        run(T0)
        run(T0, 60)
        incident = Incident.objects.get()
        assert incident.severity == "P1"
        assert incident.title == "Storefront: elevated error rate"
        assert "error rate 0.300% of 10,000 requests in 5 min (above 0.10%)" in incident.impact

    def test_a_rate_within_the_threshold_passes(self, client, monitor):
        self.post(client, monitor, {"requests": 10_000, "errors": 5}, T0 - timedelta(minutes=1))
        run(T0)
        assert CheckResult.objects.get(monitor=monitor).ok

    def test_errors_older_than_the_window_no_longer_count(self, client, monitor):
        self.post(client, monitor, {"requests": 10_000, "errors": 500}, T0 - timedelta(minutes=6))
        self.post(client, monitor, {"requests": 10_000}, T0 - timedelta(minutes=1))
        run(T0)
        result = CheckResult.objects.get(monitor=monitor)
        assert result.ok
        assert (result.value_1, result.value_2) == (0, 10_000)

    def test_too_few_requests_are_not_judged(self, client, monitor):
        self.post(client, monitor, {"requests": 20, "errors": 5}, T0)
        run(T0)
        assert CheckResult.objects.get(monitor=monitor).ok


class TestFlapping:
    """More than K (here 2) state changes within an hour: flapping; the incident is then told at most
    once per N (here 15) minutes, and a change that flipped back within the hold is never told."""

    @pytest.fixture
    def monitor(self, target):
        return make_monitor(
            kind="http",
            url=target.url("/"),
            failures_to_open=1,
            recoveries_to_close=1,
            flap_threshold=2,
            flap_hold_minutes=15,
        )

    def alternate(self, target, *, start: int, checks: int) -> None:
        for n in range(start, start + checks):
            target.down() if n % 2 else target.up()
            run(T0, 30 * n)

    def test_a_flapping_monitor_is_held_to_one_incident_change_per_hold(self, monitor, target):
        self.alternate(target, start=0, checks=20)  # 10 minutes: down, up, down, up...
        monitor = fresh(monitor)
        assert monitor.flapping
        assert len(monitor.transitions) == 19
        incident = Incident.objects.get()
        # Declared at the first failure, recovered at the next pass; then held.
        assert status_events(incident) == [Status.INVESTIGATING, Status.MONITORING]
        assert CheckResult.objects.filter(monitor=monitor, ok=False).count() == 10

    def test_after_the_hold_the_current_state_is_told_once(self, monitor, target):
        self.alternate(target, start=0, checks=31)  # to 15 min: the last check (n=30) is up
        target.down()
        assert run(T0, 31 * 30).held == 1  # down again, 14.5 min after the recovery was told: held
        assert run(T0, 60 + 15 * 60 + 5).opened == 1  # the hold has passed and it is still down: told
        incident = Incident.objects.get()
        assert status_events(incident) == [Status.INVESTIGATING, Status.MONITORING, Status.INVESTIGATING]

    def test_a_monitor_stable_for_an_hour_stops_flapping(self, monitor, target):
        self.alternate(target, start=0, checks=10)
        assert fresh(monitor).flapping
        target.up()
        for n in range(10, 10 + 2 * 60 + 2):
            run(T0, 30 * n)
        monitor = fresh(monitor)
        assert not monitor.flapping
        assert monitor.transitions == []
        assert Incident.objects.get().status == Status.MONITORING


class TestKilledRunner:
    """A runner that dies holding a check: its lease expires, the next runner runs the same slot
    once, and the outage still opens its incident."""

    def test_the_check_is_run_again_after_the_lease_and_the_incident_opens(self, target):
        monitor = make_monitor(kind="http", url=target.url("/"), timeout_seconds=5)
        target.down()
        assert len(services.monitors_claim(now=T0, limit=10, token="dead-runner")) == 1
        lease_until = fresh(monitor).lease_until
        assert lease_until == T0 + timedelta(seconds=5 + 15)  # timeout + MONITOR_LEASE_MARGIN_SECONDS

        assert run(T0, 10).claimed == 0  # still leased
        again = run(lease_until, 1)
        assert (again.claimed, again.failed) == (1, 1)
        run(lease_until, 30)
        assert Incident.objects.get().severity == "P0"
        slots = list(CheckResult.objects.order_by("scheduled_at").values_list("scheduled_at", flat=True))
        assert slots == [T0, T0 + timedelta(seconds=30)]  # the dead runner's slot, run once

    def test_a_result_the_dead_runner_sends_late_is_dropped(self, target):
        monitor = make_monitor(kind="http", url=target.url("/"), timeout_seconds=5)
        services.monitors_claim(now=T0, limit=10, token="dead-runner")
        run(T0, 21)
        from monitors.checks import Outcome

        late = usecases.monitor_checked(
            monitor_id=monitor.pk,
            token="dead-runner",
            scheduled_at=T0,
            ran_at=T0,
            outcome=Outcome(ok=False, message="zombie"),
            now=T0 + timedelta(seconds=25),
        )
        assert not late.recorded
        assert CheckResult.objects.filter(monitor=monitor).aggregate(n=Count("id"))["n"] == 1
        assert not CheckResult.objects.filter(message="zombie").exists()
