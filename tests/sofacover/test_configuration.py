"""The environment the desk reads: `make run` points mail at its own port; the README lists every setting."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", "var", "node_modules", ".git", "__pycache__"}


# --- what the code reads ---------------------------------------------------------------


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", None) == "os"


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _reads_the_environment(func: ast.AST) -> bool:
    if isinstance(func, ast.Attribute):
        if _is_os_environ(func.value):
            return func.attr in {"get", "setdefault", "pop"}
        return func.attr == "getenv" and getattr(func.value, "id", None) == "os"
    return isinstance(func, ast.Name) and (func.id == "getenv" or func.id.startswith("env_"))


def python_env_reads(source: str) -> set[str]:
    """Names read through os.environ[...], os.environ.get/setdefault/pop, os.getenv, ``in os.environ``
    and the settings' env_* helpers, when the name is a literal."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            names.add(_literal(node.slice))
        elif isinstance(node, ast.Compare) and any(_is_os_environ(c) for c in node.comparators):
            names.add(_literal(node.left))
        elif isinstance(node, ast.Call) and node.args and _reads_the_environment(node.func):
            names.add(_literal(node.args[0]))
    return {name for name in names if name}


def make_env_reads(makefile: str) -> set[str]:
    """Variables the Makefile takes from the environment: used but never set unconditionally, or set with ?=."""
    hard = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*:?=", makefile, re.MULTILINE))
    soft = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*\?=", makefile, re.MULTILINE))
    used = set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", makefile))
    shell = set(re.findall(r"\$\$\{([A-Z][A-Z0-9_]*)", makefile))
    return soft | (used - hard) | shell


def procfile_env_reads(procfile: str) -> set[str]:
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", procfile))


def project_python_files() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts[:-1])]


def settings_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for path in project_python_files():
        names |= python_env_reads(path.read_text(encoding="utf-8"))
    names |= make_env_reads((ROOT / "Makefile").read_text(encoding="utf-8"))
    for procfile in ("Procfile", "Procfile.prod"):
        names |= procfile_env_reads((ROOT / procfile).read_text(encoding="utf-8"))
    return names


# --- what the README says ---------------------------------------------------------------


def readme_settings_table() -> dict[str, tuple[str, str]]:
    """The README's configuration table: variable -> (default, meaning); a row may name several variables."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration (environment)", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in {"variable", "---"} or set(cells[0]) <= {"-"}:
            continue
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0]):
            rows[name] = (cells[1], cells[2])
    return rows


class TestTheReadmeListsEverySetting:
    def test_every_setting_the_code_reads_has_a_row(self):
        missing = settings_read_by_the_code() - set(readme_settings_table())
        assert not missing, f"read from the environment but not in the README's configuration table: {sorted(missing)}"

    def test_every_row_says_its_default_and_meaning(self):
        table = readme_settings_table()
        assert {"DESK_BASE_URL", "PORT", "DATABASE_URL"} <= set(table)
        assert not [name for name, (default, meaning) in table.items() if not default or not meaning]

    def test_the_scanner_sees_each_way_of_reading_the_environment(self):
        source = (
            "import os\n"
            "a = os.environ['A']\n"
            "b = os.environ.get('B', '1')\n"
            "os.environ.setdefault('C', 'x')\n"
            "d = os.getenv('D')\n"
            "e = env_bool('E', default=False)\n"
            "f = 'F' in os.environ\n"
            "g = os.environ.get(name)\n"
        )
        assert python_env_reads(source) == {"A", "B", "C", "D", "E", "F"}
        makefile = "PORT ?= 8000\nBIN := .venv/bin\nrun:\n\t$(BIN)/x $(EXTRA) $${DEBUG:-1}\n"
        assert make_env_reads(makefile) == {"PORT", "EXTRA", "DEBUG"}


# --- make run -----------------------------------------------------------------------------


@pytest.fixture
def fake_tools(tmp_path: Path) -> Path:
    """Stand-ins for .venv/bin/python and honcho that record the environment `make run` gives them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "honcho"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} PORT=$PORT DESK_BASE_URL=$DESK_BASE_URL"\n')
        script.chmod(0o755)
    (tmp_path / "stamp").touch()  # newer than pyproject.toml: nothing to install
    return tmp_path


def make_run(fake_tools: Path, *args: str, **env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PORT", "DESK_BASE_URL", "MAKEFLAGS"}}
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "-C", str(ROOT), "run", f"BIN={fake_tools / 'bin'}",
         f"STAMP={fake_tools / 'stamp'}", *args],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    return result.stdout.splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
class TestMakeRun:
    def test_mail_links_name_the_port_the_desk_is_served_on(self, fake_tools):
        lines = make_run(fake_tools, PORT="9300")

        # migrate, seed_demo (its tickets' mail) and honcho (web, worker, beat) all get the web port's URL.
        assert lines == [
            "python PORT=9300 DESK_BASE_URL=http://127.0.0.1:9300",
            "python PORT=9300 DESK_BASE_URL=http://127.0.0.1:9300",
            "honcho PORT=9300 DESK_BASE_URL=http://127.0.0.1:9300",
        ]

    def test_the_default_port_is_8000(self, fake_tools):
        assert make_run(fake_tools)[-1] == "honcho PORT=8000 DESK_BASE_URL=http://127.0.0.1:8000"

    def test_a_port_given_to_make_counts_too(self, fake_tools):
        assert make_run(fake_tools, "PORT=9400")[-1] == "honcho PORT=9400 DESK_BASE_URL=http://127.0.0.1:9400"

    def test_an_explicit_base_url_wins(self, fake_tools):
        lines = make_run(fake_tools, PORT="9300", DESK_BASE_URL="https://desk.example.com")
        assert lines[-1] == "honcho PORT=9300 DESK_BASE_URL=https://desk.example.com"


class TestSettings:
    def test_an_empty_base_url_falls_back_to_the_default(self):
        script = "from django.conf import settings; print(settings.DESK_BASE_URL)"
        environ = {**os.environ, "DESK_BASE_URL": "", "DJANGO_SETTINGS_MODULE": "sofacover.settings_test"}
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", script],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=ROOT,
        )
        assert result.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8000"
