"""What every ``bench*`` management command shares.

It never benchmarks the developer's database: without DATABASE_URL a bench
command runs itself again in a child process on a separate SQLite file (its
``--db-file``); with DATABASE_URL it uses that database as given, and says so.
It counts statements with ``Statements`` and reports with ``percentile`` and
``render_table``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
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
