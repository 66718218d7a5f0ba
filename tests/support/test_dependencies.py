"""The apps' dependency arrows, as docs/architecture.md draws them: accounts at the bottom, bench on top.

Walks every module of the apps with ast and fails on an import the arrows forbid,
wherever it is written (top level, inside a function, under TYPE_CHECKING).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "accounts",
    "tickets",
    "inbound",
    "escalation",
    "incidents",
    "monitors",
    "notifications",
    "knowledge",
    "surveys",
    "reports",
    "chat",
    "support",
    "bench",
)
# Who may import whom, among our apps (sofacover is wiring and errors: anyone may import it).
MAY_IMPORT = {
    "accounts": set(),
    "tickets": {"accounts"},
    "inbound": {"accounts", "tickets"},  # the mail gateway's protocols and records; its doors are in support
    "escalation": {"accounts", "tickets"},
    # incidents, the status page and reviews: the update cadence and review due times read the SLA
    # policies' calendars; review items name knowledge articles. Who hears about an incident is the
    # use cases' business (support.usecases), as for escalations.
    "incidents": {"accounts", "tickets", "escalation", "knowledge"},
    # Who hears what reads the SLA clock (quiet hours, update promises) and what it recorded; the
    # clock never calls notifications: the use cases do (support.usecases.escalate, sla_sweep).
    # Mail delivery asks inbound which addresses bounced.
    "notifications": {"accounts", "tickets", "inbound", "escalation", "incidents"},
    # Monitors: the checks, their history and uptime; they read incidents (the open one per monitor,
    # components, MTTD/MTTR) and guard URLs with notifications' SSRF guard. The incident a check
    # opens or updates is the use cases' business (support.usecases.monitor_checked).
    "monitors": {"accounts", "tickets", "incidents", "notifications"},
    "knowledge": {"accounts", "tickets"},
    "surveys": {"accounts", "tickets", "notifications"},  # notifications: the outbox the survey mail goes through
    # reports read every app's figures and mail the weekly summary through the outbox
    "reports": {"accounts", "tickets", "escalation", "incidents", "notifications", "knowledge", "surveys"},
    # Live chat: agents' availability and chat sessions; the business calendar is escalation's, the
    # insertable replies knowledge's. Each chat is a ticket: filing it and its lines are support.usecases'.
    "chat": {"accounts", "tickets", "escalation", "knowledge"},
    "support": set(APPS) - {"support", "bench"},  # the use cases span every app; only the wiring imports support
    # times everything; nothing imports it
    "bench": set(APPS) - {"bench"},
}


def imported_apps(path: Path) -> set[str]:
    """The first component of every module ``path`` imports (relative imports stay in the app)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def forbidden_imports(app: str) -> list[str]:
    allowed = MAY_IMPORT[app] | {app}
    problems = []
    for path in sorted((ROOT / app).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for other in sorted((imported_apps(path) & set(APPS)) - allowed):
            problems.append(f"{relative} imports {other}")
    return problems


class TestDependencyArrows:
    @pytest.mark.parametrize("app", APPS)
    def test_each_app_imports_only_the_apps_below_it(self, app):
        assert forbidden_imports(app) == []

    def test_the_check_finds_an_import_against_the_arrows(self, tmp_path):
        module = tmp_path / "m.py"
        module.write_text("def f():\n    from support import usecases\n    import reports.rollup\n")
        assert imported_apps(module) == {"support", "reports"}

    def test_no_app_module_is_left_unchecked(self):
        ours = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
        assert ours - {"sofacover"} == set(APPS)
