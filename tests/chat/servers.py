"""Real ASGI servers for the chat's tests: uvicorn or daphne as subprocesses on free loopback ports,
on the test database and one real Redis (REDIS_URL)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sofacover.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,  # the test's sessions and tokens are signed with it
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_DEBUG": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
        "SOFACOVER_VAR_DIR": str(tmp_path / "var"),
    }


def command(kind: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            "sofacover.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    return [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "-v", "0", "sofacover.asgi:application"]


@contextlib.contextmanager
def asgi_server(kind: str, tmp_path: Path, timeout: float = 60) -> Iterator[int]:
    """Start an ASGI server, yield its port once it answers, stop it (by its own pid) on the way out."""
    port = free_port()
    log = (tmp_path / f"{kind}-{port}.log").open("wb")
    process = subprocess.Popen(command(kind, port), cwd=ROOT, env=server_env(tmp_path), stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} exited: {(tmp_path / f'{kind}-{port}.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not listen on {port} within {timeout} s")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
