"""Running due checks: claim what the threads can start now, fetch, record each result as it comes in.

A ``Runner`` keeps checks in flight across passes. Each pass it claims as many due monitors
as it has free threads (services.monitors_claim: a lease each), reads what those checks need
from the database (business baselines, error counts), starts the HTTP parts in the pool of
MONITOR_THREADS threads (no database in the threads), and hands each finished outcome to
``record`` — the use case ``support.usecases.monitor_checked``, one transaction per result — on
its own thread. Claiming no more than it can start keeps every claimed check inside its lease
(the check's timeout + MONITOR_LEASE_MARGIN_SECONDS) however slow the shop answers: a runner
with all threads busy claims nothing, and the other runners (or the next pass) take the rest.
A check still running past its timeout and half the margin (a body that never ends) is
recorded as failed and its thread left to finish; a result ``record`` cannot write is released
(due again at its next slot) and logged.

``run_due`` runs everything due at ``now`` to the end (tests, ``run_monitors --once``);
``run_loop`` keeps a runner going for a while, polling every MONITOR_POLL_SECONDS: the beat task
runs it for MONITOR_RUNNER_SECONDS every MONITOR_RUNNER_SECONDS, so a check starts within a poll
of its slot; ``manage.py run_monitors`` runs it as a process of its own.

``now`` is an input; the time a run spends is added to it for each check's own clock.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from . import checks, selectors, services
from .models import Monitor

logger = logging.getLogger(__name__)
Kind = Monitor.Kind


class Recorder(Protocol):
    def __call__(
        self,
        *,
        monitor_id: int,
        token: str,
        scheduled_at: datetime,
        ran_at: datetime,
        outcome: checks.Outcome,
        now: datetime,
    ) -> services.Verdict: ...


@dataclass
class RunResult:
    claimed: int = 0
    passed: int = 0
    failed: int = 0
    dropped: int = 0  # not ours any more, or the slot already recorded
    errors: int = 0  # could not be recorded: released
    opened: int = 0  # incidents told "failing"
    recovered: int = 0  # incidents told "recovered"
    held: int = 0  # changes kept back by the flapping hold
    passes: int = 0
    late_ms: list[int] = field(default_factory=list)

    def add(self, other: RunResult) -> None:
        for name in ("claimed", "passed", "failed", "dropped", "errors", "opened", "recovered", "held", "passes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.late_ms += other.late_ms

    def __str__(self) -> str:
        late = f", lateness max {max(self.late_ms)} ms" if self.late_ms else ""
        return (
            f"{self.claimed} checks: {self.passed} passed, {self.failed} failed, {self.dropped} dropped, "
            f"{self.errors} errors; incidents failing {self.opened}, recovered {self.recovered}, "
            f"held {self.held}{late}"
        )


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
# Checks recorded as failed at their deadline whose threads are still busy (a body that never ends):
# the process's, so a later run does not count their threads as free.
_abandoned: set[Future] = set()


def pool() -> ThreadPoolExecutor:
    """The process's check threads, made on first use (after a worker forks, not before)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.MONITOR_THREADS, thread_name_prefix="monitor-check")
        return _pool


def prepare(monitor: Monitor, *, now: datetime) -> checks.Plan:
    """What the check needs from the database, read here (the threads never query)."""
    plan = checks.Plan(monitor=monitor, scheduled_at=monitor.next_run_at)
    if monitor.kind == Kind.BUSINESS:
        plan.baseline = selectors.business_baseline(monitor, at=now)
    elif monitor.kind == Kind.ERROR_RATE:
        errors, served = selectors.error_counts(monitor, now=now)
        plan.outcome = checks.error_rate_outcome(monitor, errors=errors, requests_served=served)
    return plan


def _timed(plan: checks.Plan, started_at: Callable[[], datetime]) -> tuple[datetime, checks.Outcome]:
    ran_at = started_at()
    return ran_at, checks.run(plan)


@dataclass
class Flight:
    plan: checks.Plan
    token: str
    started_at: datetime
    deadline: float  # time.monotonic(): past it, the check is recorded as failed


class Runner:
    """Checks in flight, across passes; ``clock`` gives each its own time (``now`` plus what a run spent)."""

    def __init__(self, record: Recorder, *, clock: Callable[[], datetime]) -> None:
        self.record, self.clock = record, clock
        self.flying: dict[Future, Flight] = {}

    def free(self) -> int:
        with _pool_lock:
            for future in [future for future in _abandoned if future.done()]:
                _abandoned.discard(future)
            busy = len(_abandoned)
        return max(0, settings.MONITOR_THREADS - len(self.flying) - busy)

    def start(self, *, now: datetime, limit: int) -> RunResult:
        """Claim what is due at ``now``, as many as there are free threads (at most ``limit``), and start them."""
        result = RunResult(passes=1)
        room = min(limit, self.free())
        if room <= 0:
            return result
        token = secrets.token_hex(16)
        claimed = services.monitors_claim(now=now, limit=room, token=token)
        result.claimed = len(claimed)
        margin = settings.MONITOR_LEASE_MARGIN_SECONDS / 2
        for monitor in claimed:
            try:
                plan = prepare(monitor, now=now)
            except Exception:
                logger.exception("Could not prepare the check of monitor %s", monitor.pk)
                _release(monitor.pk, token, monitor.next_run_at, self.clock(), result)
                continue
            deadline = time.monotonic() + checks.budget_seconds(monitor) + margin
            future = pool().submit(_timed, plan, self.clock)
            self.flying[future] = Flight(plan=plan, token=token, started_at=self.clock(), deadline=deadline)
        return result

    def settle(self, result: RunResult, *, wait_seconds: float = 0.0) -> None:
        """Record the checks that finished, waiting up to ``wait_seconds`` for the first of them (or a deadline)."""
        if self.flying and wait_seconds > 0:
            soonest = min(flight.deadline for flight in self.flying.values()) - time.monotonic()
            wait(list(self.flying), timeout=max(0.0, min(wait_seconds, soonest)), return_when=FIRST_COMPLETED)
        for future, flight in list(self.flying.items()):
            if future.done():
                ran_at, outcome = future.result()
            elif time.monotonic() >= flight.deadline:
                budget = checks.budget_seconds(flight.plan.monitor)
                ran_at, outcome = flight.started_at, checks.Outcome(ok=False, message=f"no answer within {budget:g} s")
                with _pool_lock:
                    _abandoned.add(future)
            else:
                continue
            del self.flying[future]
            self._record(flight, ran_at, outcome, result)

    def _record(self, flight: Flight, ran_at: datetime, outcome: checks.Outcome, result: RunResult) -> None:
        plan = flight.plan
        try:
            verdict = self.record(
                monitor_id=plan.monitor.pk,
                token=flight.token,
                scheduled_at=plan.scheduled_at,
                ran_at=ran_at,
                outcome=outcome,
                now=self.clock(),
            )
        except Exception:
            logger.exception("Could not record the check of monitor %s", plan.monitor.pk)
            _release(plan.monitor.pk, flight.token, plan.scheduled_at, self.clock(), result)
            return
        if not verdict.recorded:
            result.dropped += 1
            return
        result.late_ms.append(max(0, round((ran_at - plan.scheduled_at).total_seconds() * 1000)))
        result.passed += outcome.ok
        result.failed += not outcome.ok
        result.opened += verdict.tell == Monitor.Told.FAILING
        result.recovered += verdict.tell == Monitor.Told.RECOVERED
        result.held += verdict.held

    def finish(self, result: RunResult) -> None:
        """Wait for everything in flight (each at most until its deadline) and record it."""
        while self.flying:
            self.settle(result, wait_seconds=1.0)


def run_due(*, now: datetime, record: Recorder, limit: int | None = None) -> RunResult:
    """Everything due at ``now``, run to the end (as many at once as there are threads)."""
    t0 = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - t0)

    runner = Runner(record, clock=clock)
    total = RunResult(passes=1)
    exhausted = False  # a claim that found fewer than it had room for: nothing more is due at ``now``
    while True:
        room = min(limit or settings.MONITOR_BATCH, runner.free())
        if not exhausted and room > 0:
            started = runner.start(now=now, limit=room)
            total.claimed += started.claimed
            total.errors += started.errors
            exhausted = started.claimed < room
        if not runner.flying:  # all done (or every thread held by an abandoned check: nothing to start)
            return total
        runner.settle(total, wait_seconds=1.0)


def _release(monitor_id: int, token: str, scheduled_at: datetime, now: datetime, result: RunResult) -> None:
    result.errors += 1
    try:
        services.claim_release(monitor_id=monitor_id, token=token, scheduled_at=scheduled_at, now=now)
    except Exception:  # the lease will expire instead
        logger.exception("Could not release the claim on monitor %s", monitor_id)


def run_loop(
    record: Recorder,
    *,
    seconds: float,
    clock: Callable[[], datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> RunResult:
    """Keep checks going until ``seconds`` have gone by (0: until ``stop``), then finish those in flight.

    Each turn claims what is due for the free threads, then waits up to MONITOR_POLL_SECONDS for a
    check to finish (or just sleeps, with none in flight): a check due starts within a poll."""
    deadline = time.monotonic() + seconds if seconds else None
    runner = Runner(record, clock=clock)
    total = RunResult()
    while not stop() and (deadline is None or time.monotonic() < deadline):
        if not connection.in_atomic_block:  # a long loop: a dropped connection is replaced, not fatal
            close_old_connections()
        total.add(runner.start(now=clock(), limit=settings.MONITOR_BATCH))
        pause = settings.MONITOR_POLL_SECONDS
        if deadline is not None:
            pause = min(pause, max(0.0, deadline - time.monotonic()))
        if runner.flying:
            runner.settle(total, wait_seconds=pause)
        else:
            sleep(pause)
    runner.finish(total)
    return total
