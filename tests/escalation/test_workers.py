"""The sweep under real faults: two Celery workers, a killed worker, Redis down, two beats, racing replies.

These run real processes against a dedicated redis-server (started here on a
free loopback port, so it can be stopped and restarted empty) and the test
PostgreSQL database, which the workers reach through DATABASE_URL: the workers
must see committed rows, hence committed transactions (``transaction=True``). On SQLite they are
skipped; CI runs the suite on PostgreSQL and Redis (.ci/run), where they run.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from escalation import selectors, services
from escalation.models import Escalation, EscalationRule, SlaBreach
from notifications import tasks as notification_tasks
from notifications.models import Notification
from reports import rollup
from sofacover.cache import cache_config
from support import tasks, usecases
from tests.escalation.processes import TEST_QUEUE, RedisServer, Worker, database_url, publishing_to, wait_for
from tests.tickets.factories import make_user
from tickets import bulk
from tickets.models import Ticket

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
pytestmark = [
    pytest.mark.skipif(
        not ON_POSTGRESQL,
        reason="needs PostgreSQL: worker processes must share the test database (CI sets DATABASE_URL)",
    ),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary"),
    # Generous: a due ticket costs ~95 queries today, and a loaded 2-core machine is slow (see the bench).
    pytest.mark.timeout(600),
    # Committed data (the workers read it); the seeded policies, rules and groups come back after each flush.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TO_TIER_2 = "P0 to Tier 2 after 30 min"


def refresh_facts(ticket_ids: list[int]) -> None:
    """What support.usecases.sla_sweep does with each batch: the reports' facts follow."""
    rollup.facts_refresh(ticket_ids=ticket_ids)


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(workdir=tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def broker(redis_server):
    """Point this process's Celery app at the dedicated Redis (publishing goes there), and back after."""
    with publishing_to(tasks.sla_sweep.app, redis_server.url):
        yield redis_server


@pytest.fixture
def start_worker(redis_server, tmp_path):
    """start_worker("a") -> a running worker on the dedicated Redis and the test database."""
    started: list[Worker] = []
    env = {
        "DJANGO_SETTINGS_MODULE": "sofacover.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_server.url,
        "SOFACOVER_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_DEBUG": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
    }

    def start(name: str, concurrency: int = 2, **extra_env: str) -> Worker:
        worker = Worker(name=name, env={**env, **extra_env}, logdir=tmp_path / "logs", concurrency=concurrency)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def desk():
    """A requester and one agent per tier, so alerts route to people as well as to Slack."""
    return {
        "customer": make_user("load@example.com", "customer"),
        **{tier: make_user(f"tier{tier}@sofacoverpro.com", "agent", tier=tier) for tier in (1, 2, 3)},
    }


def due_tickets_load(count: int, *, requester, now: datetime, age=timedelta(minutes=40), priority="P0") -> list[int]:
    """``count`` open tickets filed ``age`` ago and due for the sweep, loaded in bulk."""
    created = now - age
    items = (
        bulk.BulkTicket(
            Ticket(
                subject=f"Checkout down #{n}",
                description="Payment page returns 500.",
                priority=priority,
                status=Ticket.Status.NEW,
                tier=1,
                requester=requester,
                created_at=created,
                updated_at=created,
                tier_entered_at=created,
            )
        )
        for n in range(count)
    )
    bulk.tickets_bulk_load(tickets=items)
    due = Ticket.objects.filter(subject__startswith="Checkout down #", sla_next_check_at__isnull=True)
    due.update(sla_next_check_at=now - timedelta(minutes=1))
    return list(Ticket.objects.filter(subject__startswith="Checkout down #").values_list("pk", flat=True))


def send_sweeps(count: int) -> None:
    for _ in range(count):
        tasks.sla_sweep.apply_async(queue=TEST_QUEUE)


def assert_each_escalated_once(ids: list[int]) -> None:
    rule = EscalationRule.objects.get(name=TO_TIER_2)
    rows = Escalation.objects.filter(rule=rule, ticket_id__in=ids)
    per_ticket = Counter(rows.values_list("ticket_id", flat=True))
    assert len(per_ticket) == len(ids), f"{len(ids) - len(per_ticket)} due tickets were never escalated"
    assert set(per_ticket.values()) == {1}
    assert rows.count() == len(ids)
    assert not Ticket.objects.filter(pk__in=ids).exclude(tier=2).exists()
    # The first-response clock ran out (15 min) and is on record once per ticket. (In the tier a
    # ticket was filed in, the first-response clock is the tier clock: no second breach.)
    breaches = Counter(SlaBreach.objects.filter(ticket_id__in=ids).values_list("ticket_id", "kind"))
    assert len(breaches) == len(ids)
    assert {kind for _, kind in breaches} == {"first_response"}
    assert set(breaches.values()) == {1}
    # Every escalation queued its alerts once: one Slack post each, no duplicates by construction.
    slack = Notification.objects.filter(kind=Notification.Kind.ESCALATED, channel="slack", ticket_id__in=ids)
    assert slack.count() == len(ids)


def sweeps_finished(workers: list[Worker], expected: int) -> bool:
    failed = [w.name for w in workers if "raised unexpected" in w.log()]
    if failed:
        raise AssertionError(f"a sweep failed in {failed}:\n" + "\n".join(w.log()[-3000:] for w in workers))
    return sum(w.count("succeeded in") for w in workers) >= expected


# --- SL-1: two real workers, overlapping sweeps ---------------------------------------


class TestTwoWorkers:
    def test_escalate_a_thousand_due_tickets_exactly_once(self, broker, start_worker, desk):
        now = timezone.now()
        ids = due_tickets_load(1000, requester=desk["customer"], now=now)
        workers = [start_worker("one"), start_worker("two")]

        started = time.monotonic()
        send_sweeps(6)  # six overlapping sweeps over four pool processes
        wait_for(lambda: sweeps_finished(workers, 6), timeout=420, interval=0.5, what="six sweeps")
        elapsed = time.monotonic() - started

        assert_each_escalated_once(ids)
        assert all(w.count("succeeded in") >= 1 for w in workers), "both workers took part"
        assert not Ticket.objects.filter(pk__in=ids, sla_next_check_at__lte=now).exists()
        print(f"\n1000 due tickets, 6 sweeps on 2 workers x 2 processes: {elapsed:.1f} s")


# --- SL-3: a worker killed mid-sweep ---------------------------------------------------


class TestWorkerKilledMidSweep:
    def test_a_restarted_worker_finishes_the_sweep_losing_and_doubling_nothing(self, broker, start_worker, desk):
        now = timezone.now()
        ids = due_tickets_load(1000, requester=desk["customer"], now=now)
        # Small batches (each its own transaction), so the kill lands between commits and inside one.
        victim = start_worker("victim", SLA_SWEEP_BATCH="10")
        send_sweeps(1)

        escalated = Escalation.objects.filter(ticket_id__in=ids)
        wait_for(lambda: escalated.count() >= 40, timeout=120, what="the sweep to be under way")
        pool = victim.pool_pids()
        assert pool, "the prefork pool has processes"
        for pid in pool:  # SIGKILL the pool mid-transaction, then the worker itself: nothing is acked
            os.kill(pid, signal.SIGKILL)
        victim.kill()
        at_kill = escalated.count()
        assert 40 <= at_kill < len(ids), "killed mid-sweep"

        # The half-done ticket's transaction rolled back; the rest is still due in the database.
        still_due = Ticket.objects.filter(pk__in=ids, sla_next_check_at__lte=now).count()
        assert still_due == len(ids) - at_kill

        survivor = start_worker("survivor")
        send_sweeps(2)  # what the next beats do, overlapping on both pool processes
        wait_for(lambda: sweeps_finished([survivor], 2), timeout=300, interval=0.5, what="the next sweeps")

        assert_each_escalated_once(ids)
        print(f"\nkilled after {at_kill} of {len(ids)} escalations; the next sweep did the other {len(ids) - at_kill}")


# --- SL-4: Redis down ---------------------------------------------------------------


class TestRedisDown:
    def test_tickets_and_replies_keep_working_and_everything_due_fires_once_after(
        self, broker, start_worker, desk, settings, monkeypatch
    ):
        settings.NOTIFY_KICK_ON_COMMIT = True  # the after-commit outbox kick publishes, as in production
        monkeypatch.setattr(notification_tasks, "_broker_down_until", 0.0)  # and its back-off is this test's alone
        now = timezone.now()
        ids = due_tickets_load(50, requester=desk["customer"], now=now)
        broker.stop()

        started = time.monotonic()
        ticket = usecases.file_ticket(
            requester=desk["customer"], subject="Sofa cover zip", description="It broke.", now=timezone.now()
        )
        opened_in = time.monotonic() - started
        started = time.monotonic()
        usecases.reply(ticket=ticket, author=desk[1], body="Sending a new one.", now=timezone.now())
        replied_in = time.monotonic() - started
        assert opened_in < 5
        assert replied_in < 5
        # What they must tell people waits in the outbox, committed.
        assert Notification.objects.filter(ticket=ticket, kind=Notification.Kind.ACKNOWLEDGMENT).count() == 1

        # Publishing itself is bounded: a sweep sent now fails fast instead of hanging the caller.
        started = time.monotonic()
        with pytest.raises(OperationalError):
            tasks.sla_sweep.apply_async(queue=TEST_QUEUE)
        publish_failed_in = time.monotonic() - started
        assert publish_failed_in < 10

        broker.start()  # back, and empty
        worker = start_worker("after-outage")
        send_sweeps(1)
        wait_for(lambda: sweeps_finished([worker], 1), timeout=180, interval=0.5, what="the sweep after the outage")

        assert_each_escalated_once(ids)
        print(
            f"\nRedis down: ticket_open {opened_in * 1000:.0f} ms, message_add {replied_in * 1000:.0f} ms, "
            f"failed publish {publish_failed_in:.1f} s"
        )

    def test_the_api_files_tickets_while_the_shared_cache_redis_is_down(self, redis_server, desk, settings):
        # In production REDIS_URL serves the cache (rate-limit counters) and the broker alike.
        # Regression: django-ratelimit's cache.add raised redis ConnectionError → 500.
        settings.CACHES = {"default": cache_config(redis_server.url)}
        redis_server.stop()
        client = APIClient(raise_request_exception=False)
        client.force_authenticate(desk["customer"])

        started = time.monotonic()
        response = client.post("/api/v1/tickets/", {"subject": "Zip", "description": "Broke."}, format="json")

        assert time.monotonic() - started < 5
        assert response.status_code == 201


# --- SL-2: two beats at once --------------------------------------------------------------


def _snapshot(ids: list[int]) -> dict:
    """The sweep's end state keyed by ticket subject (stable across two loads), without row ids."""
    subjects = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "subject"))
    return {
        "tickets": sorted(
            Ticket.objects.filter(pk__in=ids).values_list("subject", "tier", "sla_next_check_at", "resolution_due_at")
        ),
        "escalations": sorted(
            (subjects[t], rule, f, to)
            for t, rule, f, to in Escalation.objects.filter(ticket_id__in=ids).values_list(
                "ticket_id", "rule__name", "from_tier", "to_tier"
            )
        ),
        "breaches": sorted(
            (subjects[t], kind, due)
            for t, kind, due in SlaBreach.objects.filter(ticket_id__in=ids).values_list("ticket_id", "kind", "due_at")
        ),
        "notifications": sorted(
            Counter(
                (subjects[t], kind, channel, recipient)
                for t, kind, channel, recipient in Notification.objects.filter(ticket_id__in=ids).values_list(
                    "ticket_id", "kind", "channel", "recipient"
                )
            ).items()
        ),
    }


def _concurrently(count: int, call) -> list:
    """Run ``call`` in ``count`` threads released together, each on its own database connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(10)
            results[n] = call()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


class TestTwoBeats:
    def test_two_sweeps_in_the_same_second_end_where_one_sweep_ends(self, desk):
        now = datetime(2026, 3, 2, 9, 40, tzinfo=UTC)

        ids = due_tickets_load(100, requester=desk["customer"], now=now)
        single = usecases.sla_sweep(now=now)
        alone = _snapshot(ids)
        Ticket.objects.filter(pk__in=ids).delete()

        ids = due_tickets_load(100, requester=desk["customer"], now=now)
        results = _concurrently(2, lambda: usecases.sla_sweep(now=now))
        together = _snapshot(ids)

        assert together == alone
        assert single.escalated == 100
        assert sum(r.escalated for r in results) == 100
        assert sum(r.breached for r in results) == single.breached == 100


# --- SL-7: a reply racing the sweep; a ticket resolved meanwhile ------------------------------


@pytest.fixture
def not_responded_rule():
    rule = EscalationRule.objects.create(
        name="P1 not answered after 65 min to Tier 2",
        priority="P1",
        condition=EscalationRule.Condition.NOT_RESPONDED,
        after_minutes=65,
        action=EscalationRule.Action.MOVE_TO_TIER,
        to_tier=2,
    )
    selectors.policy_book_forget()
    yield rule
    selectors.policy_book_forget()


class TestReplyRacesTheSweep:
    T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    NOW = T0 + timedelta(minutes=70)  # the 65-minute rule and the 60-minute first response are both due

    def _due_p1(self, desk) -> Ticket:
        ticket = usecases.file_ticket(
            requester=desk["customer"], subject="Login loop", description="d", priority="P1", now=self.T0
        )
        ticket.refresh_from_db()
        assert ticket.sla_next_check_at is not None
        assert ticket.sla_next_check_at <= self.NOW
        return ticket

    def test_a_reply_committed_before_the_sweep_locks_the_row_prevents_the_escalation(self, desk, not_responded_rule):
        ticket = self._due_p1(desk)
        book = selectors.policy_book(fresh=True)
        listed = selectors.due_ticket_ids(now=self.NOW, limit=100)  # the sweep has read its work list
        assert ticket.pk in listed

        # The agent's reply commits on another connection before the sweep reaches the ticket.
        _concurrently(1, lambda: usecases.reply(ticket=ticket, author=desk[1], body="On it.", now=self.NOW))

        result = services.SweepResult()
        for ticket_id in listed:
            services.sweep_ticket(ticket_id=ticket_id, now=self.NOW, book=book, result=result, changed=refresh_facts)

        assert not Escalation.objects.filter(ticket=ticket, rule=not_responded_rule).exists()
        # The reply came after the 60-minute target: that breach is real and recorded, once.
        assert list(SlaBreach.objects.filter(ticket=ticket).values_list("kind", flat=True)) == ["first_response"]

    def test_a_reply_holding_the_row_lock_makes_the_sweep_pass_and_the_next_one_sees_the_reply(
        self, desk, not_responded_rule
    ):
        ticket = self._due_p1(desk)
        locked, release = threading.Event(), threading.Event()

        def reply_slowly() -> None:
            from django.db import transaction

            with transaction.atomic():
                usecases.reply(ticket=ticket, author=desk[1], body="On it.", now=self.NOW)
                locked.set()
                release.wait(10)

        replier = threading.Thread(target=lambda: _run_closing(reply_slowly))
        replier.start()
        assert locked.wait(10)
        try:
            first = usecases.sla_sweep(now=self.NOW)  # the row is locked: skip, never wait or guess
        finally:
            release.set()
            replier.join(10)
        second = usecases.sla_sweep(now=self.NOW)

        assert (first.examined, first.skipped, first.escalated) == (0, 1, 0)
        assert (second.examined, second.escalated) == (1, 0)
        assert not Escalation.objects.filter(ticket=ticket).exists()

    def test_a_ticket_resolved_after_the_sweep_listed_it_is_skipped(self, desk, not_responded_rule):
        ticket = self._due_p1(desk)
        book = selectors.policy_book(fresh=True)
        listed = selectors.due_ticket_ids(now=self.NOW, limit=100)
        usecases.resolve(ticket=ticket, actor=desk[1], now=self.NOW, resolution_note="Fixed.")

        result = services.SweepResult()
        for ticket_id in listed:
            services.sweep_ticket(ticket_id=ticket_id, now=self.NOW, book=book, result=result, changed=refresh_facts)

        assert not Escalation.objects.filter(ticket=ticket).exists()
        assert not SlaBreach.objects.filter(ticket=ticket, kind="resolution").exists()


def _run_closing(function) -> None:
    try:
        function()
    finally:
        close_old_connections()
        connection.close()
