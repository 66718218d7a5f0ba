"""``manage.py bench_chat``: 200 live chats at once through a real ASGI server, message delivery times.

Like the other benches it never touches the developer's database: without DATABASE_URL it runs
itself again in a child process on a separate SQLite file (var/bench_chat.sqlite3).

The child migrates, files --chats chats (``support.usecases.chat_start``, each a ticket of channel
chat) accepted by --agents agents (``chat_accept``), starts uvicorn on a free loopback port
(``--processes`` workers: with REDIS_URL they share the Redis channel layer; without it one
process and the in-memory layer, as ``make run``; the workers keep their database connections),
and connects every customer (their signed token) and every agent (a signed-in session) with the
``websockets`` client, from --client-processes processes of its own, --connect-rate chats a
second. Once every socket is in, each chat exchanges --lines lines, the two sides in turn, one
line every --interval seconds per chat (spread out at random), every line through the consumer
and ``chat_message`` (a message on the ticket, the SLA clock, the reports' fact). Delivery is
timed from the sender's send to the other side's receipt of the frame; the CPU per line of the
workers, their PostgreSQL sessions and the clients is read from /proc (Linux). Target: p95 <
200 ms on 2 cores. Not a test: the numbers depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from bench.harness import OwnDatabaseCommand, percentile, render_table
from chat import tokens
from chat.models import ChatSession
from support import usecases
from tickets.models import Message

KEYS = ("chats", "agents", "lines", "interval", "processes", "client_processes", "connect_rate", "port")
TARGET_P95_MS = 200.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user(email: str, role: str, tier: int | None = None) -> User:
    found = User.objects.filter(username=email).first()
    return found or account_services.user_create(email=email, password=None, role=role, tier=tier)


class Command(OwnDatabaseCommand):
    help = "Time live chat message delivery: N concurrent chats through a real ASGI server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chats", type=int, default=200, help="concurrent chats")
        parser.add_argument("--agents", type=int, default=50, help="agents sharing the chats (4 each by default)")
        parser.add_argument("--lines", type=int, default=6, help="lines per chat, the two sides in turn")
        parser.add_argument("--interval", type=float, default=3.0, help="seconds between a chat's lines")
        parser.add_argument(
            "--processes", type=int, default=0, help="uvicorn workers (default 2 with REDIS_URL, else 1)"
        )
        parser.add_argument(
            "--client-processes", type=int, default=2, help="processes the chats' sockets are spread over"
        )
        parser.add_argument(
            "--connect-rate",
            type=float,
            default=50.0,
            help="chats joining per second (0: all at once); a burst lands mostly on one uvicorn worker",
        )
        parser.add_argument("--port", type=int, default=0, help="uvicorn's loopback port (default: a free one)")
        super().add_arguments(parser)

    def handle(self, *args, **options) -> None:
        if options["chats"] < 1 or options["agents"] < 1 or options["lines"] < 2:
            raise CommandError("--chats and --agents must be at least 1, --lines at least 2.")
        arguments = [f"--{k.replace('_', '-')}={options[k]}" for k in KEYS]
        if self.rerun_elsewhere(options, arguments):
            return
        self._run(**{k: options[k] for k in KEYS})

    def _prepare(self, chats: int, agents: int) -> tuple[list[tuple[int, str]], list[str]]:
        """Fresh chats, each accepted; (session id, the customer's token) for each, and a cookie per chat's agent."""
        ChatSession.objects.filter(state__in=["waiting", "active"]).update(state="ended", ended_at=timezone.now())
        desk = [_user(f"bench-chat-agent{n}@sofacoverpro.com", "agent", tier=1) for n in range(agents)]
        cookies = {}
        for agent in desk:
            client = Client()
            client.force_login(agent)
            cookies[agent.pk] = f"sessionid={client.cookies['sessionid'].value}"
        sessions, agent_cookies = [], []
        now = timezone.now()
        for n in range(chats):
            customer = _user(f"bench-chat-customer{n}@example.com", "customer")
            chat = usecases.chat_start(visitor=customer, body=f"Bench chat {n}: where is my order?", now=now)
            agent = desk[n % agents]
            usecases.chat_accept(session=chat, agent=agent, now=now)
            sessions.append((chat.pk, tokens.visitor_token(session_id=chat.pk, visitor_id=customer.pk)))
            agent_cookies.append(cookies[agent.pk])
        return sessions, agent_cookies

    def _server(self, processes: int, port: int) -> tuple[subprocess.Popen, int]:
        port = port or _free_port()
        env = {
            **os.environ,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_LOG_LEVEL": "WARNING",
            # Each worker keeps its database connections (as a deployment should: README, DJANGO_CONN_MAX_AGE);
            # with 0 Channels closes the connection after every consumer's database call, and every line
            # of chat would pay for a new PostgreSQL session.
            "DJANGO_CONN_MAX_AGE": os.environ.get("DJANGO_CONN_MAX_AGE", "300"),
        }
        uvicorn = Path(sys.executable).parent / "uvicorn"
        argv = [str(uvicorn), "sofacover.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", str(processes), "--log-level", "warning", "--no-access-log"]
        argv += ["--timeout-graceful-shutdown", "5"]
        # A process group of its own: the workers go with it (see _stop), none is left holding the port.
        process = subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError("uvicorn exited")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return process, port
            except OSError:
                time.sleep(0.3)
        _stop(process)
        raise CommandError("uvicorn did not start")

    def _run(
        self,
        *,
        chats: int,
        agents: int,
        lines: int,
        interval: float,
        processes: int,
        client_processes: int,
        connect_rate: float,
        port: int,
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        processes = processes or (2 if os.environ.get("REDIS_URL") else 1)
        started = time.perf_counter()
        sessions, cookies = self._prepare(chats, agents)
        self.stdout.write(
            f"Filed and accepted {chats} chats ({agents} agents) in {time.perf_counter() - started:.1f} s."
        )
        layer = str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).rsplit(".", 1)[-1]
        self.stdout.write(
            f"uvicorn with {processes} worker(s), channel layer {layer}, {os.cpu_count()} CPUs; "
            f"{lines} lines per chat, one every {interval:g} s per chat, once all {2 * chats} sockets are in; "
            f"the sockets in {client_processes} client process(es)..."
        )
        process, port = self._server(processes, port)
        try:
            outcome = run_clients(
                port,
                sessions,
                cookies,
                lines=lines,
                interval=interval,
                client_processes=client_processes,
                connect_rate=connect_rate,
                server_pid=process.pid,
            )
        finally:
            _stop(process)
        rows = []
        measured = (
            ("connect (both sides)", outcome.connect_ms),
            ("message delivery", outcome.delays),
            ("  the desk's lines", outcome.desk_delays),
            ("    of them the first (first response)", outcome.first_response_delays),
            ("  the customers' lines", outcome.customer_delays),
        )
        for what, values in measured:
            if values:
                p95 = percentile(values, 95)
                target = f"p95 < {TARGET_P95_MS:.0f} ms" if what == "message delivery" else "-"
                met = ("yes" if p95 < TARGET_P95_MS else "no") if what == "message delivery" else "-"
                rows.append(
                    [
                        what,
                        str(len(values)),
                        f"{percentile(values, 50):.1f}",
                        f"{p95:.1f}",
                        f"{max(values):.1f}",
                        target,
                        met,
                    ]
                )
        self.stdout.write("")
        self.stdout.write(render_table(["what", "n", "p50 ms", "p95 ms", "max ms", "target", "met"], rows))
        self.stdout.write("")
        sent = chats * lines
        elapsed = outcome.elapsed
        self.stdout.write(
            f"{sent} lines in {elapsed:.1f} s ({sent / elapsed:.0f} lines/s); {outcome.lost} not delivered "
            f"within 10 s; {outcome.dropped} chats whose socket the server dropped or refused."
        )
        if outcome.lost_lines:
            self.stdout.write(_lost_lines_report(outcome))
        if outcome.errors:
            self.stdout.write(f"Errors the senders of those lines got: {sorted(set(outcome.errors))}.")
        if outcome.sockets:
            self.stdout.write(f"Sockets per uvicorn worker: {' / '.join(map(str, outcome.sockets))}.")
        if outcome.cpu is not None:
            server, database, clients, busy = outcome.cpu
            self.stdout.write(
                f"While the lines ran: CPU per line {server / sent * 1000:.1f} ms in the uvicorn workers, "
                f"{database / sent * 1000:.1f} ms in their PostgreSQL sessions (0 on SQLite or a remote server), "
                f"{clients / sent * 1000:.1f} ms in the bench's clients; the machine's cores "
                f"{busy:.0%} busy (everything on it: PostgreSQL, Redis, other work); load average "
                f"{os.getloadavg()[0]:.1f}."
            )


def _lost_lines_report(outcome: Outcome) -> str:
    """Of the lines not delivered in time: how many came later, and how many the desk stored (the use case
    ran: the line is on its ticket and a reconnect replays it) — which tells a slow line from a lost one."""
    stored = sum(
        1
        for session_id, body in outcome.lost_lines
        if Message.objects.filter(ticket__chat__pk=session_id, body=body).exists()
    )
    late = sorted(outcome.late_ms)
    after = f" (after {', '.join(f'{ms / 1000:.1f}' for ms in late)} s)" if late else ""
    return (
        f"Of the {len(outcome.lost_lines)} line(s) not delivered in time: {len(late)} came later{after}; "
        f"{stored} stored on the chat's ticket."
    )


def _stop(process: subprocess.Popen) -> None:
    """Stop uvicorn (SIGTERM), then whatever of its process group is left (a worker still shutting down)."""
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@dataclass
class Outcome:
    desk_delays: list[float] = field(default_factory=list)  # the agents' lines, to the customer
    customer_delays: list[float] = field(default_factory=list)
    first_response_delays: list[float] = field(default_factory=list)  # each chat's first line: the desk's answer
    connect_ms: list[float] = field(default_factory=list)
    lost: int = 0
    lost_lines: list[tuple[int, str]] = field(default_factory=list)  # (chat session, body) of those lines
    late_ms: list[float] = field(default_factory=list)  # those of them that came later: after how long
    errors: list[str] = field(default_factory=list)  # error frames the senders of lines not delivered got
    dropped: int = 0
    elapsed: float = 0.0
    sockets: list[int] = field(default_factory=list)  # sockets each uvicorn worker holds, busiest first
    client_cpu: float = 0.0  # seconds of the client processes' CPU while the lines ran
    # Seconds of CPU while the lines ran: the uvicorn workers, their PostgreSQL sessions, the clients; and
    # the share of the machine's cores busy meanwhile (with whatever else runs on it).
    cpu: tuple[float, float, float, float] | None = None

    @property
    def delays(self) -> list[float]:
        return self.desk_delays + self.customer_delays


def _process_cpu(pids: list[int]) -> float:
    """Seconds of CPU (user + system) these processes have used so far (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _server_pids(parent: int) -> list[int]:
    """uvicorn's supervisor and its worker processes."""
    pids = [parent]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _sockets_per_worker(pids: list[int], port: int) -> list[int]:
    """How many established connections on ``port`` each of these processes holds (Linux /proc), busiest first."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    inodes.add(fields[9])
    counts = []
    for pid in pids:
        with contextlib.suppress(OSError):
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
            held = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)
            if held:
                counts.append(held)
    return sorted(counts, reverse=True)


def _database_pids() -> list[int]:
    """The server processes of the workers' PostgreSQL sessions, when it runs on this machine (their
    connections are kept: see DJANGO_CONN_MAX_AGE in Command._server); none on SQLite."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot (Linux /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def run_clients(
    port: int,
    sessions: list[tuple[int, str]],
    cookies: list[str],
    *,
    lines: int,
    interval: float,
    client_processes: int,
    connect_rate: float,
    server_pid: int,
) -> Outcome:
    """The chats' sockets in ``client_processes`` processes of their own (forked: Django's connections closed
    first), so one event loop's backlog does not add to the delays it measures. Every socket connects first;
    the lines start together once all are in (a barrier across the processes), and the server's CPU is read
    from there to the end."""
    connections.close_all()
    context = multiprocessing.get_context("fork")
    count = max(1, min(client_processes, len(sessions)))
    barrier = context.Barrier(count + 1)
    results = context.SimpleQueue()
    children = []
    for k in range(count):
        mine = list(range(k, len(sessions), count))
        child = context.Process(
            target=_client_process,
            args=(results, barrier, port, mine, [sessions[i] for i in mine], [cookies[i] for i in mine]),
            kwargs={"lines": lines, "interval": interval, "connect_rate": connect_rate},
            daemon=True,
        )
        child.start()
        children.append(child)
    server = _server_pids(server_pid)
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=600)
    database = _database_pids()  # the workers connected while their sockets joined
    outcome = Outcome(sockets=_sockets_per_worker(server, port))
    server_cpu, database_cpu, busy = _process_cpu(server), _process_cpu(database), _machine_busy()
    for _ in children:
        part: Outcome = results.get()
        outcome.desk_delays += part.desk_delays
        outcome.customer_delays += part.customer_delays
        outcome.first_response_delays += part.first_response_delays
        outcome.connect_ms += part.connect_ms
        outcome.lost += part.lost
        outcome.lost_lines += part.lost_lines
        outcome.late_ms += part.late_ms
        outcome.errors += part.errors
        outcome.dropped += part.dropped
        outcome.elapsed = max(outcome.elapsed, part.elapsed)
        outcome.client_cpu += part.client_cpu
    server_cpu, now_busy = _process_cpu(server) - server_cpu, _machine_busy()
    database_cpu = _process_cpu(database) - database_cpu
    for child in children:
        child.join(timeout=30)
    if now_busy[1] > busy[1]:
        outcome.cpu = (
            server_cpu,
            database_cpu,
            outcome.client_cpu,
            (now_busy[0] - busy[0]) / (now_busy[1] - busy[1]),
        )
    return outcome


def _client_process(results, barrier, port: int, numbers: list[int], sessions, cookies, **kwargs) -> None:
    results.put(asyncio.run(converse(port, numbers, sessions, cookies, barrier=barrier, **kwargs)))


async def converse(
    port: int,
    numbers: list[int],
    sessions: list[tuple[int, str]],
    cookies: list[str],
    *,
    lines: int,
    interval: float,
    barrier: Any = None,
    connect_rate: float = 0.0,
) -> Outcome:
    """Connect both sides of each chat; once every socket is in (and, across processes, ``barrier``),
    each chat exchanges its lines. Chat ``numbers[i]`` is ``sessions[i]``."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.typing import Origin

    origin = Origin(f"http://127.0.0.1:{port}")
    outcome = Outcome()
    joined = 0
    all_in, go = asyncio.Event(), asyncio.Event()

    async def errors_sent_to(ws) -> list[str]:
        """The error frames waiting on ``ws`` (why a line was not delivered, if the server said)."""
        found = []
        with contextlib.suppress(TimeoutError):
            while True:
                async with asyncio.timeout(0.2):
                    frame = json.loads(await ws.recv())
                if frame.get("type") == "error":
                    found.append(str(frame.get("message")))
        return found

    async def drain_until_state(ws) -> None:
        while json.loads(await ws.recv())["type"] != "state":
            pass

    def arrived() -> None:
        nonlocal joined
        joined += 1
        if joined == len(sessions):
            all_in.set()

    async def one_chat(n: int, session_id: int, token: str, cookie: str) -> None:
        base = f"ws://127.0.0.1:{port}/ws/chat/{session_id}/"
        if connect_rate > 0:  # chat n joins n / rate seconds in, whichever process it is in
            await asyncio.sleep(n / connect_rate)
        t0 = time.perf_counter()
        done = 0
        counted = False
        overdue: dict[str, float] = {}  # lines not delivered within 10 s, by body: when they were sent

        def seen(frame: dict[str, Any]) -> None:
            sent_at = overdue.pop(str(frame.get("body")), None) if frame.get("type") == "message" else None
            if sent_at is not None:
                outcome.late_ms.append((time.perf_counter() - sent_at) * 1000)

        try:
            async with (
                connect(f"{base}?token={token}", origin=origin, open_timeout=60) as visitor,
                connect(base, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=60) as desk,
            ):
                await drain_until_state(visitor)
                await drain_until_state(desk)
                outcome.connect_ms.append((time.perf_counter() - t0) * 1000)
                arrived()
                counted = True
                await go.wait()
                await asyncio.sleep(random.uniform(0, interval))
                for line in range(lines):
                    sender, receiver = (desk, visitor) if line % 2 == 0 else (visitor, desk)
                    body = f"line {line} of chat {n}"
                    sent = time.perf_counter()
                    await sender.send(json.dumps({"type": "message", "body": body}))
                    done += 1
                    try:
                        async with asyncio.timeout(10):
                            while True:
                                frame = json.loads(await receiver.recv())
                                if frame.get("type") == "message" and frame.get("body") == body:
                                    break
                                seen(frame)
                        delays = outcome.desk_delays if sender is desk else outcome.customer_delays
                        delays.append((time.perf_counter() - sent) * 1000)
                        if line == 0:
                            outcome.first_response_delays.append(delays[-1])
                    except TimeoutError:
                        outcome.lost += 1
                        outcome.lost_lines.append((session_id, body))
                        overdue[body] = sent
                        outcome.errors += await errors_sent_to(sender)
                    await asyncio.sleep(max(0.0, interval + random.uniform(-interval / 4, interval / 4)))
                # A line still overdue may yet come: either side's socket, for as long again.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10 if overdue else 0):
                        while overdue:
                            for ws in (visitor, desk):
                                with contextlib.suppress(TimeoutError):
                                    async with asyncio.timeout(0.1):
                                        seen(json.loads(await ws.recv()))
        except (OSError, TimeoutError, ConnectionClosed, InvalidStatus):  # the server dropped or refused it
            outcome.dropped += 1
            outcome.lost += lines - done
            if not counted:
                arrived()

    async def start_together() -> None:
        await all_in.wait()
        if barrier is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                await asyncio.to_thread(barrier.wait, 600)
        outcome.client_cpu = -time.process_time()
        go.set()

    if not sessions:
        all_in.set()
    starter = asyncio.create_task(start_together())
    chats = asyncio.gather(
        *(
            one_chat(n, sid, token, cookies[i])
            for i, (n, (sid, token)) in enumerate(zip(numbers, sessions, strict=True))
        )
    )
    await all_in.wait()
    await starter
    started = time.perf_counter()
    await chats
    outcome.elapsed = time.perf_counter() - started
    outcome.client_cpu += time.process_time()
    return outcome
