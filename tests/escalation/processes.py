"""Real processes for the fault tests: a dedicated redis-server and Celery workers.

Each runs as a child of the test process in its own session, with its output
in a log file under the test's tmp_path, and every start registers a stop so
a failing test still leaves no process behind. Nothing here needs Docker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
CELERY = Path(sys.executable).with_name("celery")
REDIS_SERVER = "redis-server"
TEST_QUEUE = "sla-fault-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _stop(process: subprocess.Popen, *, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not gone within ``grace`` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError):  # also reap pool children that outlived their parent
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def children_of(pid: int) -> list[int]:
    """Direct child PIDs (Linux /proc), e.g. a prefork worker's pool processes."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def database_url() -> str:
    """The test database as a DATABASE_URL, for the worker processes a test starts (PostgreSQL)."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def drop_pools(app) -> None:
    """Forget a Celery app's pooled broker connections, as Celery does after a fork, so the next publish
    reconnects (to another broker URL, say)."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def publishing_to(app, broker_url: str) -> Iterator[None]:
    """This process's Celery ``app`` publishes to ``broker_url`` inside the block, and where it did after."""
    saved = app.conf.broker_url
    drop_pools(app)
    app.conf.broker_url = broker_url
    yield
    drop_pools(app)
    app.conf.broker_url = saved


@dataclass
class RedisServer:
    """``redis-server`` on a free loopback port with no persistence: a restart comes back empty."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ping, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, grace=5)
            self.process = None


@dataclass
class Worker:
    """``celery -A sofacover worker -P prefork`` consuming ``queues`` (TEST_QUEUE), against the given env;
    ``include``: more modules of tasks to import (``-I``), e.g. a test's own."""

    name: str
    env: Mapping[str, str]
    logdir: Path
    concurrency: int = 2
    queues: str = TEST_QUEUE
    include: str = ""
    process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.logdir / f"worker-{self.name}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, *, timeout: float = 60) -> Worker:
        self.logdir.mkdir(parents=True, exist_ok=True)
        command = [
            str(CELERY), "-A", "sofacover", "worker",
            "-P", "prefork", "-c", str(self.concurrency),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-Q", self.queues, "-n", f"{self.name}@%h", "-l", "INFO",
        ]  # fmt: skip
        if self.include:
            command += ["-I", self.include]
        out = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._ready, timeout=timeout, interval=0.2, what=f"worker {self.name} to be ready")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        return " ready." in self.log()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pool_pids(self) -> list[int]:
        return children_of(self.pid)

    def count(self, text: str) -> int:
        return self.log().count(text)

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once, as a crashed host would."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None
