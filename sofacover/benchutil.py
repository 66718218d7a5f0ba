"""What every ``bench*`` management command shares: it never benchmarks the developer's database.

Without DATABASE_URL a bench command runs itself again in a child process on a
separate SQLite file (its ``--db-file``); with DATABASE_URL it uses that database
as given, and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
