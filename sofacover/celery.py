"""The Celery app. Configuration lives in settings under the CELERY_ namespace."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from . import taskmetrics
from .logs import celery_handlers_to_json

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sofacover.settings")

app = Celery("sofacover")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The worker's and beat's own log handlers write JSON lines in production, as the web process does.
after_setup_logger.connect(celery_handlers_to_json, weak=False, dispatch_uid="sofacover.logs.celery")
after_setup_task_logger.connect(celery_handlers_to_json, weak=False, dispatch_uid="sofacover.logs.celery_task")

__all__ = ("app", "taskmetrics")
