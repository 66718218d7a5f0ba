"""Every ``bench*`` command, without DATABASE_URL, runs itself again in a child process on its own SQLite file.

The child gets the command's own options back, its ``SOFACOVER_<NAME>_CHILD`` variable (named in the README's
settings table) and DATABASE_URL at ``--db-file`` (var/<name>.sqlite3 by default, under the project); the
parent touches no database. A child that finds no DATABASE_URL refuses rather than use the default database.
"""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from bench import harness

# The command, then the options its child gets when it is run without any.
CHILD_OPTIONS = {
    "bench": ["--tickets", "100000", "--repeat", "30", "--load-limit", "100000"],
    "bench_chat": [
        "--chats=200",
        "--agents=50",
        "--lines=6",
        "--interval=3.0",
        "--processes=0",
        "--client-processes=2",
        "--connect-rate=50.0",
        "--port=0",
    ],
    "bench_incident_broadcast": ["--tickets", "10000"],
    "bench_kb": ["--articles", "10000", "--repeat", "30"],
    "bench_mail": ["--emails", "2000", "--clients", "4", "--workers", "4", "--processes", "2"],
    "bench_monitors": [
        "--monitors",
        "1000",
        "--interval",
        "30",
        "--minutes",
        "3.0",
        "--runners",
        "2",
        "--storage-monitors",
        "50",
        "--storage-days",
        "9",
    ],
    "bench_reports": ["--tickets", "100000", "--repeat", "5", "--steps", "0.01,0.1,1", "--load-limit", "100000"],
    "bench_status": ["--incidents", "1000", "--repeat", "300"],
    "bench_sweep": ["--sizes", "10000,100000", "--repeat", "20", "--due-repeat", "2"],
}


def test_every_bench_command_is_listed():
    commands = Path(settings.BASE_DIR) / "bench" / "management" / "commands"
    assert {path.stem for path in commands.glob("bench*.py")} == set(CHILD_OPTIONS)


@pytest.mark.parametrize("name", sorted(CHILD_OPTIONS))
def test_without_database_url_the_command_runs_itself_on_its_own_file(name, monkeypatch):
    child_env = f"SOFACOVER_{name.upper()}_CHILD"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv(child_env, raising=False)
    calls = []

    def child(command, env, check):
        calls.append((command, env))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(harness.subprocess, "run", child)
    call_command(name, stdout=StringIO(), stderr=StringIO())

    db_file = Path(settings.BASE_DIR).resolve() / "var" / f"{name}.sqlite3"
    [(command, env)] = calls
    assert command[0] == sys.executable
    assert command[1] == str(Path(settings.BASE_DIR) / "manage.py")
    assert command[2:] == [name, *CHILD_OPTIONS[name], "--db-file", str(db_file)]
    assert env["DATABASE_URL"] == f"sqlite:///{db_file}"
    assert env[child_env] == "1"
    assert env["DJANGO_DEBUG"] == "0"


@pytest.mark.parametrize("name", sorted(CHILD_OPTIONS))
def test_a_child_without_database_url_refuses_to_run(name, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv(f"SOFACOVER_{name.upper()}_CHILD", "1")
    with pytest.raises(CommandError, match="refusing"):
        call_command(name, stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize(
    ("name", "given", "passed_on"),
    [
        ("bench", ["--tickets", "50", "--repeat", "2"], ["--tickets", "50", "--repeat", "2", "--load-limit", "100000"]),
        ("bench_kb", ["--articles", "50", "--repeat", "2"], ["--articles", "50", "--repeat", "2"]),
        ("bench_status", ["--incidents", "5", "--repeat", "2"], ["--incidents", "5", "--repeat", "2"]),
        (
            "bench_sweep",
            ["--sizes", "4000", "--million"],
            ["--sizes", "4000,1000000", "--repeat", "20", "--due-repeat", "2"],
        ),
    ],
)
def test_the_child_gets_the_options_given_and_the_db_file(name, given, passed_on, monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv(f"SOFACOVER_{name.upper()}_CHILD", raising=False)
    calls = []

    def child(command, env, check):
        calls.append((command, env))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(harness.subprocess, "run", child)
    db_file = tmp_path / "own.sqlite3"
    call_command(name, *given, "--db-file", str(db_file), stdout=StringIO(), stderr=StringIO())
    [(command, env)] = calls
    assert command[2:] == [name, *passed_on, "--db-file", str(db_file)]
    assert env["DATABASE_URL"] == f"sqlite:///{db_file}"


def test_a_failed_child_is_a_command_error(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SOFACOVER_BENCH_KB_CHILD", raising=False)
    monkeypatch.setattr(harness.subprocess, "run", lambda command, env, check: subprocess.CompletedProcess(command, 3))
    with pytest.raises(CommandError, match="exit status 3"):
        call_command("bench_kb", "--db-file", str(tmp_path / "kb.sqlite3"), stdout=StringIO(), stderr=StringIO())
