"""Log lines: one JSON object each in production (debug off), readable text while debugging (`make run`)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from sofacover import logs

ROOT = Path(django_settings.BASE_DIR)
SCRIPT = """
import logging, django
django.setup()
log = logging.getLogger("support.health")
log.warning("the relay is %s behind", "90 s", extra={"queue": "celery"})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke")
"""


def desk_stderr(tmp_path: Path, **env: str) -> list[str]:
    """What the desk's settings make of two log calls, in a process of its own."""
    environ = {k: v for k, v in os.environ.items() if k not in {"DJANGO_LOG_FORMAT", "DJANGO_DEBUG"}}
    environ |= {"DJANGO_SETTINGS_MODULE": "sofacover.settings", "SOFACOVER_VAR_DIR": str(tmp_path / "var"), **env}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=environ, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return [line for line in result.stderr.splitlines() if line.strip()]


class TestProductionLogs:
    def test_each_line_is_a_json_object_with_level_logger_and_message(self, tmp_path):
        lines = desk_stderr(tmp_path, DJANGO_DEBUG="0")

        assert len(lines) == 2, lines  # the traceback stays inside its line
        first, second = (json.loads(line) for line in lines)
        assert first["level"] == "WARNING"
        assert first["logger"] == "support.health"
        assert first["message"] == "the relay is 90 s behind"
        assert first["queue"] == "celery"
        assert first["time"]
        assert second["level"] == "ERROR"
        assert "ZeroDivisionError" in second["exc_info"]

    def test_json_can_be_asked_for_while_debugging(self, tmp_path):
        lines = desk_stderr(tmp_path, DJANGO_DEBUG="1", DJANGO_LOG_FORMAT="json")
        assert json.loads(lines[0])["message"] == "the relay is 90 s behind"


class TestDevelopmentLogs:
    def test_make_run_keeps_readable_text(self, tmp_path):
        lines = desk_stderr(tmp_path, DJANGO_DEBUG="1")

        assert "WARNING support.health: the relay is 90 s behind" in lines[0]
        with pytest.raises(json.JSONDecodeError):
            json.loads(lines[0])
        assert any(line.startswith("Traceback") for line in lines)

    def test_text_can_be_asked_for_in_production(self, tmp_path):
        assert "WARNING support.health:" in desk_stderr(tmp_path, DJANGO_DEBUG="0", DJANGO_LOG_FORMAT="text")[0]


class TestTheFormatSetting:
    @pytest.mark.parametrize(
        ("value", "debug", "expected"), [(None, True, "text"), ("", False, "json"), ("JSON", True, "json")]
    )
    def test_defaults_follow_debug(self, value, debug, expected):
        assert logs.log_format(value, debug=debug) == expected

    def test_anything_else_is_refused(self):
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured, match="json or text"):
            logs.log_format("xml", debug=False)


class TestCeleryLogs:
    """The worker sets up its own handlers (its -l level); in JSON mode they write JSON too."""

    def test_the_workers_handlers_write_json(self, settings):
        settings.LOG_FORMAT = "json"
        stream = io.StringIO()
        logger = logging.getLogger("tests.celery-json")
        handler = logging.StreamHandler(stream)
        logger.addHandler(handler)
        try:
            logs.celery_handlers_to_json(logger=logger)
            logger.warning("Task %s succeeded", "support.tasks.sla_sweep")
        finally:
            logger.removeHandler(handler)

        line = json.loads(stream.getvalue())
        assert line["message"] == "Task support.tasks.sla_sweep succeeded"
        assert line["logger"] == "tests.celery-json"

    def test_text_mode_leaves_them_alone(self, settings):
        settings.LOG_FORMAT = "text"
        handler = logging.StreamHandler(io.StringIO())
        formatter = logging.Formatter("%(message)s")
        handler.setFormatter(formatter)
        logger = logging.getLogger("tests.celery-text")
        logger.addHandler(handler)
        try:
            logs.celery_handlers_to_json(logger=logger)
        finally:
            logger.removeHandler(handler)
        assert handler.formatter is formatter
