"""Timers and checks have their own queue: a backlog of notifications never delays the SLA sweep.

Two real Celery workers, laid out as the Procfiles lay them out (the default queue's worker and the
timers' worker), on a redis-server this test starts and the test PostgreSQL database. A backlog of
slow tasks fills the default queue; the sweep, published by name as the beat publishes it, is routed
to "timers" and runs at once, while the same sweep sent to the default queue (the one-queue layout
of before) waits for the backlog. The workers run as in production (debug off): JSON logs, and task
metrics in a shared PROMETHEUS_MULTIPROC_DIR that /metrics adds up.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from escalation.models import SweepRun
from escalation.services import SWEEP
from support import tasks
from tests.escalation.processes import RedisServer, Worker, database_url, publishing_to, wait_for
from tests.support import slowtasks

ROOT = Path(settings.BASE_DIR)
ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
BACKLOG_TASKS, BACKLOG_TASK_SECONDS = 10, 1.5  # a 15 s backlog on a one-process worker (the issue saw 42 s)


def procfile_queues(name: str) -> dict[str, str]:
    """Process name -> the queue its worker consumes (-Q), for the Celery workers of a Procfile."""
    queues = {}
    for line in (ROOT / name).read_text().splitlines():
        process, _, command = line.partition(":")
        if " worker " in command and (match := re.search(r"-Q (\S+)", command)):
            queues[process.strip()] = match.group(1)
    return queues


class TestTheLayout:
    """What the real-worker test below relies on, checked on any database."""

    @pytest.mark.parametrize("procfile", ["Procfile", "Procfile.prod"])
    def test_each_procfile_runs_one_worker_per_queue(self, procfile):
        assert procfile_queues(procfile) == {"worker": "celery", "timers": "timers"}

    @pytest.mark.parametrize(
        "task",
        [
            "support.tasks.sla_sweep",
            "support.tasks.close_resolved_tickets",
            "support.tasks.incident_sweep",
            "support.tasks.review_sweep",
            "monitors.tasks.run_check",
        ],
    )
    def test_timers_and_checks_are_routed_to_timers(self, task):
        assert tasks.sla_sweep.app.amqp.router.route({}, task)["queue"].name == "timers"

    @pytest.mark.parametrize(
        "task", ["notifications.tasks.deliver_outbox", "support.tasks.fetch_mail", "reports.tasks.weekly_summary"]
    )
    def test_everything_else_stays_on_the_default_queue(self, task):
        assert tasks.sla_sweep.app.amqp.router.route({}, task)["queue"].name == "celery"

    def test_every_beat_entry_lands_on_a_queue_a_worker_consumes(self):
        consumed = set(procfile_queues("Procfile.prod").values())
        router = tasks.sla_sweep.app.amqp.router
        for entry in settings.CELERY_BEAT_SCHEDULE.values():
            assert router.route({}, entry["task"])["queue"].name in consumed


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(workdir=tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def publish_to(redis_server):
    """This process's Celery app publishes to the dedicated Redis for the test, and back after."""
    with publishing_to(tasks.sla_sweep.app, redis_server.url):
        yield redis_server


@pytest.fixture
def workers(publish_to, tmp_path):
    """The default queue's worker and the timers' worker, one pool process each, as Procfile.prod names them."""
    queues = procfile_queues("Procfile.prod")
    env = {
        "DJANGO_SETTINGS_MODULE": "sofacover.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": publish_to.url,
        "SOFACOVER_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_DEBUG": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    (tmp_path / "prometheus").mkdir()
    started = {
        process: Worker(
            name=process,
            env=env,
            logdir=tmp_path / "logs",
            concurrency=1,
            queues=queue,
            include=slowtasks.__name__,
        )
        for process, queue in queues.items()
    }
    for worker in started.values():
        worker.start()
    yield started
    for worker in started.values():
        worker.stop()


def finished_sweeps() -> int:
    run = SweepRun.objects.filter(name=SWEEP).values_list("last_finished_at", flat=True).first()
    return 0 if run is None else 1


def succeeded(worker: Worker, task: str) -> int:
    return len(re.findall(rf"{re.escape(task)}\[[^\]]+\] succeeded in", worker.log()))


@pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: the workers share the test database")
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestABacklogOfNotifications:
    def test_does_not_delay_the_sweep(self, workers, settings, tmp_path):
        default, timers = workers["worker"], workers["timers"]
        sleep = "tests.support.slowtasks.sleep"
        for _ in range(BACKLOG_TASKS):
            slowtasks.sleep.apply_async(kwargs={"seconds": BACKLOG_TASK_SECONDS})
        wait_for(lambda: f"{sleep}[" in default.log(), timeout=30, what="the backlog to start")

        # Published by name, as the beat does: routed to "timers".
        published = time.monotonic()
        tasks.sla_sweep.apply_async()
        wait_for(lambda: succeeded(timers, "support.tasks.sla_sweep"), timeout=60, what="the routed sweep")
        routed_seconds = time.monotonic() - published
        backlog_done = succeeded(default, sleep)

        assert SweepRun.objects.filter(name=SWEEP, last_finished_at__isnull=False).exists()
        assert routed_seconds < 5, f"the sweep waited {routed_seconds:.1f} s"
        assert backlog_done <= BACKLOG_TASKS // 2, "the backlog was still there when the sweep ran"

        # The one-queue layout of before: the same sweep on the default queue waits for what is left.
        left = BACKLOG_TASKS - succeeded(default, sleep)
        published = time.monotonic()
        tasks.sla_sweep.apply_async(queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        wait_for(
            lambda: succeeded(default, "support.tasks.sla_sweep"), timeout=120, what="the sweep behind the backlog"
        )
        queued_seconds = time.monotonic() - published

        assert succeeded(default, sleep) == BACKLOG_TASKS
        assert queued_seconds >= (left - 1) * BACKLOG_TASK_SECONDS, f"{left} tasks ahead, {queued_seconds:.1f} s"
        assert succeeded(timers, sleep) == 0, "the timers' worker took no notification work"

        # Production logs: the workers' lines are JSON.
        line = next(line for line in timers.log().splitlines() if "support.tasks.sla_sweep[" in line)
        assert json.loads(line)["logger"] == "celery.worker.strategy"  # "Task … received"
        line = next(line for line in timers.log().splitlines() if "succeeded in" in line)
        record = json.loads(line)
        assert record["level"] == "INFO"
        assert record["logger"] == "celery.app.trace"
        assert record["message"].startswith("Task support.tasks.sla_sweep[")

        # /metrics adds up the workers' task counts from the shared directory.
        settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path / "prometheus")
        text = Client().get("/metrics").content.decode()
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        assert samples[("celery_tasks_total", (("state", "SUCCESS"), ("task", "support.tasks.sla_sweep")))] == 2
        assert samples[("celery_tasks_total", (("state", "SUCCESS"), ("task", sleep)))] == BACKLOG_TASKS
