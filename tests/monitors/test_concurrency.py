"""Two runners at once, and a runner killed mid-check, on PostgreSQL.

Runners here are threads with their own database connections, or real ``manage.py run_monitors``
processes against the test database (committed data: ``transaction=True``). On SQLite they are
skipped: the test database is in memory, other connections cannot share it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from incidents.models import Incident
from monitors.models import CheckResult, Monitor
from support import usecases

from .conftest import T0, make_monitor

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
pytestmark = [
    pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: runners in other connections share the database"),
    pytest.mark.timeout(300),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def runner_process(seconds: float, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "sofacover.settings",
        "NOTIFY_PRIVATE_URL_ALLOWLIST": "127.0.0.0/8",
        "MONITOR_POLL_SECONDS": "0.1",
    }
    return subprocess.Popen(
        [sys.executable, MANAGE, "run_monitors", "--seconds", str(seconds)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def many_monitors(target, count: int, *, interval: int, first_slot, spread: float = 1.0) -> list[Monitor]:
    """``count`` HTTP monitors of ``interval`` seconds, their first slots spread over ``spread`` of it."""
    monitors = [
        make_monitor(
            now=first_slot,
            name=f"m{n}",
            kind="http",
            url=target.url(f"/m/{n}"),
            interval_seconds=interval,
            timeout_seconds=2,
        )
        for n in range(count)
    ]
    for n, monitor in enumerate(monitors):  # slots spread over the interval
        at = first_slot + timedelta(seconds=interval * spread * n / count)
        Monitor.objects.filter(pk=monitor.pk).update(next_run_at=at)
    return monitors


class TestTwoRunners:
    def test_two_runner_threads_run_each_check_once_per_slot(self, target):
        # First slots T0 to T0 + 14.75 s, every 30 s after: each pass (at T0 + 15 and T0 + 45) finds every
        # monitor due once. A check recorded later than its next slot skips it (the runner's clock is the
        # pass's time plus what the pass spent), so the slots leave a pass 15 s of room: with slots spread
        # over the whole interval a loaded host's pass, half a second late on the second monitor, made it
        # skip the slot the second pass was to run (119 of 120).
        monitors = many_monitors(target, 60, interval=30, first_slot=T0, spread=0.5)
        barrier = threading.Barrier(2)
        passes: list = []

        def runner() -> None:
            try:
                for at in (T0 + timedelta(seconds=15), T0 + timedelta(seconds=45)):
                    barrier.wait()
                    passes.append(usecases.monitor_checks(now=at))
            finally:
                connection.close()

        threads = [threading.Thread(target=runner) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert sum(p.claimed for p in passes) == 120
        assert sum(p.dropped + p.errors for p in passes) == 0
        for n, monitor in enumerate(monitors):
            assert CheckResult.objects.filter(monitor=monitor).count() == 2
            assert target.count(f"/m/{n}") == 2  # each slot fetched once, not just recorded once

    def test_two_runner_processes_keep_the_schedule_and_run_each_slot_once(self, target, tmp_path):
        first_slot = timezone.now() + timedelta(seconds=4)
        monitors = many_monitors(target, 40, interval=5, first_slot=first_slot)
        processes = [runner_process(16, tmp_path / f"runner-{n}.log") for n in range(2)]
        for process in processes:
            process.wait(90)
        assert [p.returncode for p in processes] == [0, 0], [(tmp_path / f"runner-{n}.log").read_text() for n in (0, 1)]
        late = []
        for n, monitor in enumerate(monitors):
            slots = list(CheckResult.objects.filter(monitor=monitor).order_by("scheduled_at"))
            assert len(slots) >= 2
            assert target.count(f"/m/{n}") == len(slots)  # no slot fetched twice, even unrecorded
            gaps = {(b.scheduled_at - a.scheduled_at).total_seconds() for a, b in itertools.pairwise(slots)}
            assert gaps == {5.0}  # none skipped, none drifted
            late += [r.late_ms for r in slots]
        assert sorted(late)[int(len(late) * 0.95)] < 2000


class TestKilledRunner:
    def test_a_runner_killed_mid_check_loses_no_incident(self, target, tmp_path):
        target.route("/", delay=30)  # the first check hangs: the runner is killed while it waits
        monitor = make_monitor(now=timezone.now(), kind="http", url=target.url("/"), timeout_seconds=10)
        slot = monitor.next_run_at
        process = runner_process(60, tmp_path / "runner.log")
        try:
            wait_for(lambda: target.count("/") >= 1, timeout=60, what="the runner's first request")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        monitor.refresh_from_db()
        assert monitor.claim  # it died holding the check
        assert monitor.lease_until is not None
        target.routes.clear()
        target.down()

        assert usecases.monitor_checks(now=timezone.now()).claimed == 0  # leased: nobody else runs it yet
        again = usecases.monitor_checks(now=monitor.lease_until + timedelta(seconds=1))
        assert (again.claimed, again.failed) == (1, 1)
        monitor.refresh_from_db()
        usecases.monitor_checks(now=monitor.next_run_at)
        incident = Incident.objects.get()
        assert incident.severity == "P0"
        assert incident.started_at < incident.detected_at
        slots = list(CheckResult.objects.filter(monitor=monitor).order_by("scheduled_at"))
        assert slots[0].scheduled_at == slot  # the dead runner's slot, run once by the next
        assert Counter(r.scheduled_at for r in slots).most_common(1)[0][1] == 1
