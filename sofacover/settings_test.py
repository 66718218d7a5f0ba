"""Test settings: the same module, with fast hashing and mail captured in memory."""

import os

os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")

from .settings import *  # noqa: F403
from .settings import RATELIMITS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
CELERY_TASK_ALWAYS_EAGER = False
RATELIMITS = {**RATELIMITS}
# Tests flush the outbox themselves; no kick is published to a broker.
NOTIFY_KICK_ON_COMMIT = False
