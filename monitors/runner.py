"""Running due checks: claim, prepare, fetch in a thread pool, record each result as it comes in.

``run_due`` is one pass: it claims up to MONITOR_BATCH due monitors (services.monitors_claim),
reads what the checks need from the database (business baselines, error counts), runs the
HTTP parts in a pool of MONITOR_THREADS threads (no database in the threads) and hands each
outcome to ``record`` — the use case ``support.usecases.monitor_checked``, one transaction per
result — on this thread, as they complete. A result ``record`` cannot write is released: the
check is due again at its next slot, and the failure is logged.

``run_loop`` repeats passes for a while, polling every MONITOR_POLL_SECONDS: the beat task
runs it for MONITOR_RUNNER_SECONDS every MONITOR_RUNNER_SECONDS, so a check starts within a
poll of its slot; ``manage.py run_monitors`` runs it as a process of its own.

``now`` is an input; the time a pass spends is added to it for each check's own clock.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
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


def run_due(*, now: datetime, record: Recorder, limit: int | None = None) -> RunResult:
    """One pass over what is due at ``now``."""
    t0 = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - t0)

    token = secrets.token_hex(16)
    claimed = services.monitors_claim(now=now, limit=limit or settings.MONITOR_BATCH, token=token)
    result = RunResult(claimed=len(claimed), passes=1)
    if not claimed:
        return result
    futures: dict[Future, checks.Plan] = {}
    for monitor in claimed:
        try:
            plan = prepare(monitor, now=now)
        except Exception:
            logger.exception("Could not prepare the check of monitor %s", monitor.pk)
            _release(monitor.pk, token, monitor.next_run_at, clock(), result)
            continue
        futures[pool().submit(_timed, plan, clock)] = plan
    for future in as_completed(futures):
        plan = futures[future]
        ran_at, outcome = future.result()
        try:
            verdict = record(
                monitor_id=plan.monitor.pk,
                token=token,
                scheduled_at=plan.scheduled_at,
                ran_at=ran_at,
                outcome=outcome,
                now=clock(),
            )
        except Exception:
            logger.exception("Could not record the check of monitor %s", plan.monitor.pk)
            _release(plan.monitor.pk, token, plan.scheduled_at, clock(), result)
            continue
        if not verdict.recorded:
            result.dropped += 1
            continue
        result.late_ms.append(max(0, round((ran_at - plan.scheduled_at).total_seconds() * 1000)))
        result.passed += outcome.ok
        result.failed += not outcome.ok
        result.opened += verdict.tell == Monitor.Told.FAILING
        result.recovered += verdict.tell == Monitor.Told.RECOVERED
        result.held += verdict.held
    return result


def _release(monitor_id: int, token: str, scheduled_at: datetime, now: datetime, result: RunResult) -> None:
    result.errors += 1
    try:
        services.claim_release(monitor_id=monitor_id, token=token, scheduled_at=scheduled_at, now=now)
    except Exception:  # the lease will expire instead
        logger.exception("Could not release the claim on monitor %s", monitor_id)


def run_loop(
    run_once: Callable[[datetime], RunResult],
    *,
    seconds: float,
    clock: Callable[[], datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> RunResult:
    """Passes until ``seconds`` have gone by (0: until ``stop``), sleeping between passes that
    found nothing more: a check due now starts within MONITOR_POLL_SECONDS."""
    deadline = time.monotonic() + seconds if seconds else None
    total = RunResult()
    while not stop():
        if not connection.in_atomic_block:  # a long loop: a dropped connection is replaced, not fatal
            close_old_connections()
        passed = run_once(clock())
        total.add(passed)
        if deadline is not None and time.monotonic() >= deadline:
            break
        if passed.claimed < settings.MONITOR_BATCH:
            pause = settings.MONITOR_POLL_SECONDS
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            sleep(pause)
    return total
