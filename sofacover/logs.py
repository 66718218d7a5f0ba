"""The desk's log lines: readable text in development, one JSON object per line in production.

``DJANGO_LOG_FORMAT`` chooses (``json`` or ``text``); unset, it is ``text`` with
``DJANGO_DEBUG`` on (``make run``) and ``json`` otherwise. A JSON line carries
``time``, ``level``, ``logger`` and ``message``, the exception's traceback as
``exc_info`` when there is one, and whatever a call passes in ``extra``. The
same formatter serves the web process (``LOGGING``), the Celery worker and
beat (whose own logging setup :func:`celery_handlers_to_json` adjusts) and
gunicorn's error log (``gunicorn.conf.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured

FORMATS = ("json", "text")
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_format(value: str | None, *, debug: bool) -> str:
    """The format named, or the default for the mode: text while debugging, JSON otherwise."""
    if not value:
        return "text" if debug else "json"
    value = value.strip().lower()
    if value not in FORMATS:
        raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT must be json or text, not {value!r}")
    return value


def formatter_config(fmt: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` formatter entry for ``fmt``."""
    if fmt == "json":
        return {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": JSON_FIELDS, "rename_fields": JSON_RENAMED}
    return {"format": TEXT_FORMAT}


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMED)


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """``LOGGING`` for the settings: one handler on stderr, in the chosen format."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"desk": formatter_config(fmt)},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "desk"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "INFO"}},
    }


def celery_handlers_to_json(logger: logging.Logger, **_: object) -> None:
    """Celery's ``after_setup_logger`` / ``after_setup_task_logger``: the worker sets up its own
    handlers (its log level comes from ``-l``); in JSON mode, they write JSON lines too."""
    from django.conf import settings

    if getattr(settings, "LOG_FORMAT", "text") != "json":
        return
    for handler in logger.handlers:
        handler.setFormatter(json_formatter())
