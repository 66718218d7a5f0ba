"""What every ``bench*`` management command shares.

It never benchmarks the developer's database: without DATABASE_URL a bench
command (an ``OwnDatabaseCommand``) runs itself again in a child process on a
separate SQLite file (its ``--db-file``); with DATABASE_URL it uses that
database as given, and says so.
It times calls with ``sample_calls`` (wall clock, this process's CPU, statements and
their time), counts statements with ``Statements`` and reports with ``percentile`` and
``render_table``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection


def bench_database_ready(command: BaseCommand, *, child_env: str) -> bool:
    """True: benchmark the database DATABASE_URL names, here (which one is printed).

    False: there is no DATABASE_URL, so the caller re-runs itself with rerun_on_sqlite().
    A child (``child_env`` set) without DATABASE_URL refuses rather than touch the default database.
    """
    if not os.environ.get("DATABASE_URL"):
        if os.environ.get(child_env):
            raise CommandError("The bench child needs DATABASE_URL; refusing to use the default database.")
        return False
    database = settings.DATABASES["default"]
    where = " ".join(part for part in (connection.vendor, database.get("HOST"), str(database["NAME"])) if part)
    if os.environ.get(child_env):
        command.stdout.write(f"Bench database: {where}")
    else:
        command.stdout.write(
            command.style.WARNING(f"DATABASE_URL is set: benchmarking that database as given ({where}).")
        )
    return True


def rerun_on_sqlite(command: BaseCommand, *, name: str, child_env: str, db_file: str, arguments: Sequence[str]) -> None:
    """Run ``manage.py name *arguments --db-file FILE`` with DATABASE_URL at FILE (a relative FILE: in the project).

    :raises CommandError: the child process failed
    """
    path = Path(db_file)
    if not path.is_absolute():
        path = Path(settings.BASE_DIR) / path
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, child_env: "1", "DATABASE_URL": f"sqlite:///{path.resolve()}", "DJANGO_DEBUG": "0"}
    argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), name, *arguments, "--db-file", str(path)]
    command.stdout.flush()
    code = subprocess.run(argv, env=env, check=False).returncode
    if code:
        raise CommandError(f"The benchmark process failed (exit status {code}).")


class OwnDatabaseCommand(BaseCommand):
    """A ``bench*`` command that never benchmarks the developer's database.

    Its ``--db-file`` (``var/<name>.sqlite3``) is added here; ``handle`` asks ``rerun_elsewhere(options)``
    first and stops when it answers True: without DATABASE_URL the command then ran as a child process on
    that file (``SOFACOVER_<NAME>_CHILD`` set), given its ``child_options`` as they were given to it (or the
    ``arguments`` the call names). Subclasses that add arguments call ``super().add_arguments(parser)``.
    """

    bench_name: str = ""  # the command's name: its module's
    child_env: str = ""  # set in the child process the command runs
    child_options: tuple[str, ...] = ()  # the options (dest names) passed on to the child, in order

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.bench_name = cls.__module__.rpartition(".")[2]
        cls.child_env = f"SOFACOVER_{cls.bench_name.upper()}_CHILD"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--db-file", default=f"var/{self.bench_name}.sqlite3", help="SQLite file used when DATABASE_URL is unset"
        )

    def rerun_elsewhere(self, options: Mapping[str, object], arguments: Sequence[str] | None = None) -> bool:
        """False: benchmark here, on the database DATABASE_URL names. True: there is no DATABASE_URL, and the
        command has run itself again in a child process on its own SQLite file, with ``arguments`` (by
        default ``--option value`` for each of ``child_options``).

        :raises CommandError: the child process failed, or this is a child without DATABASE_URL
        """
        if bench_database_ready(self, child_env=self.child_env):
            return False
        if arguments is None:
            arguments = [
                part for name in self.child_options for part in (f"--{name.replace('_', '-')}", str(options[name]))
            ]
        rerun_on_sqlite(
            self, name=self.bench_name, child_env=self.child_env, db_file=str(options["db_file"]), arguments=arguments
        )
        return True


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; q in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def render_table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the header, a rule, then one line per row, columns padded to their widest cell."""
    rows = [list(header), *(list(line) for line in lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    rendered = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    rendered.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in rendered)


class Statements:
    """An execute wrapper: how many statements went through Django's cursors, and how long they took.

    execute and executemany count one each. Not CaptureQueriesContext: its debug
    cursor formats every query's SQL, and on SQLite runs a query of its own per
    query to quote the parameters, which would be timed with the request.
    Transaction commits are not statements here.
    """

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


class NotOk(Exception):
    """A timed call answered outside 2xx: its ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@dataclass
class Samples:
    """The timed calls of ``sample_calls``, in milliseconds, and the statements each sent."""

    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU: without the database server's work
    db_ms: list[float] = field(default_factory=list)  # inside the statements, driver round trips included
    statements: list[int] = field(default_factory=list)
    last: object = None  # what the last call returned

    @property
    def statement_range(self) -> tuple[int, int]:
        return min(self.statements), max(self.statements)


def sample_calls(
    call: Callable[[int], object], *, repeat: int, warm_up: int, before: Callable[[], object] | None = None
) -> Samples:
    """Call ``call(n)`` ``warm_up`` times untimed, then ``repeat`` times timed (n counts from 0 over both).

    ``before`` runs untimed ahead of every call. A result with a ``status_code`` outside 2xx stops
    the run with :class:`NotOk`; an exception from ``call`` goes to the caller.
    """
    samples = Samples()
    for n in range(warm_up + repeat):
        if before is not None:
            before()
        statements = Statements()
        with connection.execute_wrapper(statements):
            started, cpu_started = time.perf_counter(), time.process_time()
            result = call(n)
            elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu_started
        status = getattr(result, "status_code", 200)
        if not 200 <= status < 300:
            raise NotOk(status)
        if n >= warm_up:
            samples.wall_ms.append(elapsed * 1000)
            samples.cpu_ms.append(cpu_used * 1000)
            samples.db_ms.append(statements.seconds * 1000)
            samples.statements.append(statements.count)
            samples.last = result
    return samples


class TimedRow(Protocol):
    """What ``timed_into`` fills: a report's row of one measure."""

    p50_ms: float
    p95_ms: float
    db_p50_ms: float
    queries: tuple[int, int]
    error: str


def timed_into(
    row: TimedRow,
    call: Callable[[int], object],
    *,
    repeat: int,
    warm_up: int,
    before: Callable[[], object] | None = None,
) -> Samples | None:
    """``sample_calls`` into ``row``: wall-clock p50 and p95, the database's p50 and the statements' range.

    A call answered outside 2xx or raising is the row's ``error`` instead ("HTTP 404", "error: ValueError"),
    and None is returned: the report goes on with the other rows.
    """
    try:
        samples = sample_calls(call, repeat=repeat, warm_up=warm_up, before=before)
    except Exception as exc:  # report, do not crash: the other rows still say something
        row.error = str(exc) if isinstance(exc, NotOk) else f"error: {type(exc).__name__}"
        return None
    row.p50_ms, row.p95_ms = percentile(samples.wall_ms, 50), percentile(samples.wall_ms, 95)
    row.db_p50_ms = percentile(samples.db_ms, 50)
    row.queries = samples.statement_range
    return samples
