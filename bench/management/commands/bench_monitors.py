"""``make bench``, the monitors: do 1,000 checks every 30 s keep their schedule, and does storage stay bounded?

Two parts, each printing a table with its targets:

1. Schedule (real time): 1,000 HTTP monitors at 30 s against a shop on loopback (a
   ThreadingHTTPServer in this process), their slots spread over the interval, run by
   ``--runners`` processes of ``manage.py run_monitors`` (the same loop as the beat's task)
   for ``--minutes``. Target: lateness (start - slot) p95 under 2 s; every slot run once
   (requests the shop counted = results recorded, no slot twice, none skipped).
2. Storage (simulated time): ``--storage-monitors`` monitors at 30 s for ``--storage-days``
   days, an hour of results at a time, with the beat's rollup and prune after each hour.
   Target: the row counts level off (raw at 48 h, minutes at 7 days) instead of growing
   with time; it prints the counts per day and the steady state projected to 1,000 monitors.

Like the other benches it never touches the developer's database: without DATABASE_URL it
re-runs itself on var/bench_monitors.sqlite3; with DATABASE_URL it uses that database as given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Lock, Thread

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from bench import harness
from bench.harness import OwnDatabaseCommand, percentile
from incidents.models import Component, Incident
from monitors import retention
from monitors.models import CheckResult, ErrorCount, HourRollup, MinuteRollup, Monitor, RollupMark
from sofacover.dbutil import insert_many

PREFIX = "[bench-monitors]"
LATENESS_TARGET_MS = 2000.0
BOOT_SECONDS = 8.0  # the runner processes start (Django, the first connection) before the first slot
SIM_START = datetime(2026, 1, 5, tzinfo=UTC)


# --- the shop ------------------------------------------------------------------------------------


class Shop:
    """A loopback HTTP server answering 200 "OK" to every path, counting requests per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = Lock()
        shop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                with shop.lock:
                    shop.hits[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> Shop:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- part 1: the schedule ------------------------------------------------------------------------------


def monitors_replace(count: int, *, interval: int, port: int, first_slot: datetime) -> list[int]:
    """``count`` enabled HTTP monitors (earlier bench monitors go), slots spread evenly over the interval."""
    Monitor.objects.filter(name__startswith=PREFIX).delete()
    component = Component.objects.order_by("position").first()
    now = timezone.now()
    Monitor.objects.bulk_create(
        [
            Monitor(
                name=f"{PREFIX} {n:05d}",
                kind=Monitor.Kind.HTTP,
                severity="P0",
                interval_seconds=interval,
                timeout_seconds=5,
                url=f"http://127.0.0.1:{port}/m/{n}",
                component=component,
                next_run_at=first_slot + timedelta(seconds=interval * n / count),
                created_at=now,
                updated_at=now,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    return list(Monitor.objects.filter(name__startswith=PREFIX).order_by("name").values_list("pk", flat=True))


def runners_start(count: int, *, seconds: float, logdir: Path) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "NOTIFY_PRIVATE_URL_ALLOWLIST": "127.0.0.0/8",  # the shop is on loopback
        "DJANGO_SETTINGS_MODULE": "sofacover.settings",
    }
    env.pop(Command.child_env, None)
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    logdir.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [sys.executable, manage, "run_monitors", "--seconds", str(seconds)],
            env=env,
            stdout=(logdir / f"runner-{n}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for n in range(count)
    ]


def schedule_rows(
    *, monitors: int, runners: int, interval: int, window: tuple[datetime, datetime], hits: Counter[str], pks: list[int]
) -> list[list[str]]:
    """The table's line from what was recorded for slots in ``window``."""
    start, end = window
    results = list(
        CheckResult.objects.filter(monitor_id__in=pks, scheduled_at__gte=start, scheduled_at__lt=end).values_list(
            "monitor_id", "scheduled_at", "late_ms", "ok"
        )
    )
    late = [float(late_ms) for _, _, late_ms, _ in results] or [0.0]
    per_monitor = Counter(monitor_id for monitor_id, *_ in results)
    expected = monitors * int((end - start).total_seconds() // interval)
    requests_made = sum(hits.values())
    recorded = CheckResult.objects.filter(monitor_id__in=pks).count()
    p95 = percentile(late, 95)
    met = p95 < LATENESS_TARGET_MS and len(results) >= expected and requests_made == recorded
    return [
        [
            f"{monitors:,} at {interval} s",
            str(runners),
            f"{(end - start).total_seconds() / 60:.1f} min",
            f"{expected:,}",
            f"{len(results):,}",
            f"{min(per_monitor.values(), default=0)}-{max(per_monitor.values(), default=0)}",
            "yes" if requests_made == recorded else f"NO ({requests_made:,} requests, {recorded:,} results)",
            f"{percentile(late, 50):.0f}",
            f"{p95:.0f}",
            f"{max(late):.0f}",
            f"< {LATENESS_TARGET_MS:.0f} ms",
            "yes" if met else "no",
        ]
    ]


SCHEDULE_HEADER = [
    "monitors",
    "runners",
    "measured",
    "slots due",
    "checks run",
    "per monitor",
    "each once",
    "late p50 ms",
    "late p95 ms",
    "late max ms",
    "target p95",
    "met?",
]


# --- part 2: storage -----------------------------------------------------------------------------------


@dataclass
class RawResult:
    """A check's row as insert_many writes it (the bench loads a week of them: no model instances)."""

    monitor_id: int
    scheduled_at: datetime
    ok: bool
    latency_ms: int
    late_ms: int = 0
    status_code: int | None = 200
    value_1: float | None = None
    value_2: float | None = None
    message: str = ""


def history_clear() -> None:
    for model in (CheckResult, MinuteRollup, HourRollup, RollupMark, ErrorCount):
        model.objects.all().delete()


def simulate_storage(*, monitors: int, days: int, interval: int = 30, write=lambda line: None) -> list[list[str]]:
    """Results for ``monitors`` at ``interval`` for ``days``, an hour at a time, rollup and prune after each.

    Returns one table line per simulated day: the row counts at its end and the slowest rollup run."""
    history_clear()
    Monitor.objects.filter(name__startswith=f"{PREFIX} storage").delete()
    now = timezone.now()
    Monitor.objects.bulk_create(
        Monitor(
            name=f"{PREFIX} storage {n:04d}",
            kind=Monitor.Kind.HTTP,
            severity="P0",
            interval_seconds=interval,
            url="http://127.0.0.1:9/",
            enabled=False,
            next_run_at=now,
            created_at=now,
            updated_at=now,
        )
        for n in range(monitors)
    )
    pks = list(Monitor.objects.filter(name__startswith=f"{PREFIX} storage").values_list("pk", flat=True))
    per_hour = 3600 // interval
    lines, rollup_ms = [], []
    for hour in range(days * 24):
        at = SIM_START + timedelta(hours=hour)
        insert_many(
            [
                RawResult(pk, at + timedelta(seconds=interval * n), (n + pk) % 500 != 0, 40 + (n * 7 + pk) % 60)
                for pk in pks
                for n in range(per_hour)
            ],
            model=CheckResult,
        )
        started = time.perf_counter()
        retention.rollup_and_prune(now=at + timedelta(hours=1))
        rollup_ms.append((time.perf_counter() - started) * 1000)
        if (hour + 1) % 24 == 0:
            day = (hour + 1) // 24
            raw, minutes, hours = CheckResult.objects.count(), MinuteRollup.objects.count(), HourRollup.objects.count()
            lines.append(
                [
                    str(day),
                    f"{raw:,}",
                    f"{minutes:,}",
                    f"{hours:,}",
                    f"{raw + minutes + hours:,}",
                    f"{max(rollup_ms[-24:]):.0f}",
                ]
            )
            write(f"Simulated day {day}: {raw + minutes + hours:,} rows.")
    return lines


STORAGE_HEADER = ["day", "raw results", "minute rows", "hour rows", "total rows", "slowest rollup+prune ms"]


def steady_state(monitors: int, interval: int = 30) -> dict[str, int]:
    """The rows kept once every history is at its retention, for ``monitors`` at ``interval``."""
    per_minute = 60 / interval
    return {
        "raw": int(monitors * per_minute * 60 * settings.MONITOR_RAW_RETENTION_HOURS),
        "minutes": monitors * 60 * 24 * settings.MONITOR_MINUTE_RETENTION_DAYS,
        "hours": monitors * 24 * settings.MONITOR_HOUR_RETENTION_DAYS,
    }


class Command(OwnDatabaseCommand):
    help = "Benchmark the monitors: 1,000 checks every 30 s on schedule, and bounded storage over a simulated week."
    child_options = ("monitors", "interval", "minutes", "runners", "storage_monitors", "storage_days")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--monitors", type=int, default=1000, help="HTTP monitors checked for real (default 1000)")
        parser.add_argument("--interval", type=int, default=30, help="their interval, seconds (default 30)")
        parser.add_argument("--minutes", type=float, default=3.0, help="real minutes measured (default 3)")
        parser.add_argument("--runners", type=int, default=2, help="run_monitors processes (default 2)")
        parser.add_argument(
            "--storage-monitors", type=int, default=50, help="monitors simulated for storage (default 50)"
        )
        parser.add_argument(
            "--storage-days", type=int, default=9, help="days simulated (default 9: past the 7 days of minutes)"
        )
        super().add_arguments(parser)

    def handle(self, *args, **options) -> None:
        if options["monitors"] < 1 or options["runners"] < 1 or options["minutes"] <= 0 or options["interval"] < 5:
            raise CommandError("--monitors and --runners at least 1, --minutes above 0, --interval at least 5.")
        if self.rerun_elsewhere(options):
            return
        call_command("migrate", interactive=False, verbosity=0)
        self._schedule(
            monitors=options["monitors"],
            interval=options["interval"],
            minutes=options["minutes"],
            runners=options["runners"],
        )
        self._storage(monitors=options["storage_monitors"], days=options["storage_days"])

    def _schedule(self, *, monitors: int, interval: int, minutes: float, runners: int) -> None:
        history_clear()
        measured = minutes * 60
        with Shop() as shop:
            first_slot = timezone.now() + timedelta(seconds=BOOT_SECONDS)
            pks = monitors_replace(monitors, interval=interval, port=shop.port, first_slot=first_slot)
            incidents_before = Incident.objects.count()
            self.stdout.write(
                f"Schedule: {monitors:,} monitors every {interval} s, {runners} runner process(es), "
                f"{minutes:g} min from {first_slot:%H:%M:%S}..."
            )
            logdir = Path(settings.VAR_DIR) / "bench_monitors_logs"
            processes = runners_start(runners, seconds=BOOT_SECONDS + measured + 5, logdir=logdir)
            try:
                deadline = time.monotonic() + BOOT_SECONDS + measured + 60
                for process in processes:
                    process.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as exc:
                raise CommandError(f"A runner did not stop in time (logs in {logdir}).") from exc
            finally:
                for process in processes:
                    if process.poll() is None:
                        process.kill()
            if any(process.returncode for process in processes):
                raise CommandError(f"A runner failed (logs in {logdir}).")
            Monitor.objects.filter(pk__in=pks).update(enabled=False)
            hits = Counter(shop.hits)
        window = (first_slot, first_slot + timedelta(seconds=measured))
        lines = schedule_rows(monitors=monitors, runners=runners, interval=interval, window=window, hits=hits, pks=pks)
        self.stdout.write("")
        self.stdout.write(harness.render_table(SCHEDULE_HEADER, lines))
        opened = Incident.objects.count() - incidents_before
        self.stdout.write(f"Incidents opened (the shop stayed up): {opened}.")
        self.stdout.write("")

    def _storage(self, *, monitors: int, days: int) -> None:
        self.stdout.write(f"Storage: {monitors:,} monitors at 30 s for {days} simulated days, hour by hour...")
        lines = simulate_storage(monitors=monitors, days=days, write=self.stdout.write)
        self.stdout.write("")
        self.stdout.write(harness.render_table(STORAGE_HEADER, lines))
        bound = steady_state(monitors)
        final = lines[-1] if lines else ["0", "0", "0", "0"]
        raw, minutes = int(final[1].replace(",", "")), int(final[2].replace(",", ""))
        held = raw <= bound["raw"] + monitors * 120 * 1 and minutes <= bound["minutes"] + monitors * 60
        projected = steady_state(1000)
        self.stdout.write(
            f"Retention: raw {settings.MONITOR_RAW_RETENTION_HOURS} h, minutes "
            f"{settings.MONITOR_MINUTE_RETENTION_DAYS} days, hours {settings.MONITOR_HOUR_RETENTION_DAYS} days. "
            f"Bounded at {monitors:,} monitors: raw <= {bound['raw']:,}, minutes <= {bound['minutes']:,}: "
            f"{'yes' if held else 'no'}."
        )
        self.stdout.write(
            "Steady state at 1,000 monitors every 30 s: "
            f"{projected['raw']:,} raw + {projected['minutes']:,} minute + {projected['hours']:,} hour rows "
            f"= {sum(projected.values()):,} rows, whatever the uptime of the desk."
        )
        history_clear()
        Monitor.objects.filter(name__startswith=PREFIX).delete()
