"""Test settings: the same module, with fast hashing and mail captured in memory."""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")


def xdist_worker_index() -> int | None:
    """0, 1, ... in a pytest-xdist worker (PYTEST_XDIST_WORKER=gw0, gw1, ...); None in a serial run."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def redis_url_for_worker(url: str, index: int) -> str:
    """The Redis database numbered base + index: REDIS_URL=redis://host:6379/9 gives gw0 db 9, gw1 db 10."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base + index
    if db > 15:
        raise RuntimeError(f"xdist worker {index} would use Redis database {db} (REDIS_URL ends /{base}): run fewer")
    return urlunsplit(parts._replace(path=f"/{db}"))


# In a parallel run (make test: pytest -n) each worker gets what a test may clear or fill: its own Redis
# database (cache, Celery broker, channel layer, locks) and its own var/ (broker folders, media, beat
# schedule). pytest-django gives it its own test database (test_<name>_gw0). Set in the environment,
# so the processes a test starts (workers, servers, manage.py) inherit the same ones.
# Once per worker: a child process of the test inherits both the worker's name and the changed values.
_worker = xdist_worker_index()
if _worker is not None and os.environ.get("SOFACOVER_TEST_WORKER") != f"gw{_worker}":
    os.environ["SOFACOVER_TEST_WORKER"] = f"gw{_worker}"
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], _worker)
    if "SOFACOVER_VAR_DIR" not in os.environ:
        _base = Path(__file__).resolve().parent.parent
        os.environ["SOFACOVER_VAR_DIR"] = str(_base / "var" / "xdist" / f"gw{_worker}")

from .settings import *  # noqa: E402, F403  (after the worker isolation above, which it reads)
from .settings import RATELIMITS  # noqa: E402

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
