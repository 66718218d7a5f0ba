"""The runner: only as many checks claimed as threads to start them, a body that never ends, the loop."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitors import runner
from monitors.models import CheckResult, Monitor
from support import usecases

from .conftest import T0, make_monitor, run

pytestmark = pytest.mark.django_db


def fixed_clock(at):
    return lambda: at


class TestClaims:
    def test_a_runner_claims_no_more_checks_than_it_has_free_threads(self, target, settings):
        settings.MONITOR_THREADS = 2
        target.route("/slow", delay=0.3)
        for n in range(5):
            make_monitor(kind="http", url=target.url("/slow"), name=f"m{n}")
        checks = runner.Runner(usecases.monitor_checked, clock=fixed_clock(T0))
        assert checks.start(now=T0, limit=200).claimed == 2
        assert checks.start(now=T0, limit=200).claimed == 0  # both threads busy
        assert Monitor.objects.exclude(claim="").count() == 2  # the rest stay for another runner
        result = runner.RunResult()
        checks.finish(result)
        assert result.passed == 2
        assert checks.start(now=T0, limit=200).claimed == 2

    def test_run_due_runs_everything_due_a_pool_at_a_time(self, target, settings):
        settings.MONITOR_THREADS = 2
        for n in range(5):
            make_monitor(kind="http", url=target.url(f"/m/{n}"), name=f"m{n}")
        result = run(T0)
        assert (result.claimed, result.passed) == (5, 5)


class TestABodyThatNeverEnds:
    def test_the_check_is_recorded_as_failed_at_its_deadline(self, target, settings):
        settings.MONITOR_LEASE_MARGIN_SECONDS = 1  # deadline: the timeout + half the margin
        target.route("/drip", body="x" * 50, drip=0.1)  # 5 s of body, a byte well within the timeout
        monitor = make_monitor(kind="http", url=target.url("/drip"), timeout_seconds=0.5)
        result = run(T0)
        assert result.failed == 1
        assert CheckResult.objects.get(monitor=monitor).message == "no answer within 0.5 s"


class TestLoop:
    def test_the_loop_keeps_running_checks_as_they_fall_due(self, target):
        monitor = make_monitor(kind="http", url=target.url("/"), interval_seconds=5, timeout_seconds=2)
        ticks = iter(T0 + timedelta(seconds=n) for n in range(1000))
        clock_now = {"at": T0}

        def clock():
            clock_now["at"] = next(ticks)
            return clock_now["at"]

        turns = {"n": 0}

        def stop() -> bool:
            turns["n"] += 1
            return turns["n"] > 30

        result = runner.run_loop(usecases.monitor_checked, seconds=0, clock=clock, sleep=lambda _: None, stop=stop)
        assert result.passed >= 3
        slots = list(CheckResult.objects.filter(monitor=monitor).values_list("scheduled_at", flat=True))
        assert len(slots) == len(set(slots)) == result.passed


class TestWiring:
    def test_the_checks_and_rollups_run_on_the_timers_queue(self, settings):
        from monitors.tasks import rollup_and_prune
        from support.tasks import run_monitor_checks

        assert run_monitor_checks.queue == rollup_and_prune.queue == "timers"
        beat = settings.CELERY_BEAT_SCHEDULE
        assert beat["monitor-checks"]["task"] == "support.tasks.run_monitor_checks"
        assert beat["monitor-checks"]["options"]["queue"] == "timers"
        assert beat["monitor-checks"]["schedule"] == settings.MONITOR_RUNNER_SECONDS
        assert beat["monitor-rollups"]["options"]["queue"] == "timers"

    def test_run_monitors_once_checks_what_is_due_and_says_so(self, target):
        from io import StringIO

        from django.core.management import call_command

        make_monitor(kind="http", url=target.url("/"), now=T0)
        out = StringIO()
        call_command("run_monitors", "--once", stdout=out)
        assert out.getvalue().startswith("1 checks: 1 passed, 0 failed")


class TestQueries:
    def test_a_passing_check_costs_a_fixed_handful_of_statements(self, target):
        """Per check: the monitor's row locked, the result inserted (in a savepoint), the monitor updated,
        and the transaction's markers; per pass: the claim. Nothing grows with the history."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        for n in range(10):
            make_monitor(kind="http", url=target.url(f"/m/{n}"), name=f"m{n}")
        run(T0)
        with CaptureQueriesContext(connection) as queries:
            result = run(T0, 30)
        assert result.passed == 10
        assert len(queries) <= 10 * 7 + 10
