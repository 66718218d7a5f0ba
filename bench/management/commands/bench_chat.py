"""``manage.py bench_chat``: 200 live chats at once through a real ASGI server, message delivery times.

Like the other benches it never touches the developer's database: without DATABASE_URL it runs
itself again in a child process on a separate SQLite file (var/bench_chat.sqlite3).

The child migrates, files --chats chats (``support.usecases.chat_start``, each a ticket of channel
chat) accepted by --agents agents (``chat_accept``), starts uvicorn on a free loopback port
(``--processes`` workers: with REDIS_URL they share the Redis channel layer; without it one
process and the in-memory layer, as ``make run``), and connects every customer (their signed
token) and every agent (a signed-in session) with the ``websockets`` client. Each chat then
exchanges --lines lines, the two sides in turn, one line every --interval seconds per chat
(spread out at random), every line through the consumer and ``chat_message`` (a message on the
ticket, the SLA clock, the reports' fact). Delivery is timed from the sender's send to the other
side's receipt of the frame. Target: p95 < 200 ms on 2 cores. Not a test: the numbers depend on
the machine (and on what else runs on it).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from bench.harness import OwnDatabaseCommand, percentile, render_table
from chat import tokens
from chat.models import ChatSession
from support import usecases

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
        super().add_arguments(parser)

    def handle(self, *args, **options) -> None:
        if options["chats"] < 1 or options["agents"] < 1 or options["lines"] < 2:
            raise CommandError("--chats and --agents must be at least 1, --lines at least 2.")
        arguments = [f"--{k}={options[k]}" for k in ("chats", "agents", "lines", "interval", "processes")]
        if self.rerun_elsewhere(options, arguments):
            return
        self._run(**{k: options[k] for k in ("chats", "agents", "lines", "interval", "processes")})

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

    def _server(self, processes: int) -> tuple[subprocess.Popen, int]:
        port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        uvicorn = Path(sys.executable).parent / "uvicorn"
        argv = [str(uvicorn), "sofacover.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", str(processes), "--log-level", "warning", "--no-access-log"]
        process = subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError("uvicorn exited")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return process, port
            except OSError:
                time.sleep(0.3)
        process.terminate()
        raise CommandError("uvicorn did not start")

    def _run(self, *, chats: int, agents: int, lines: int, interval: float, processes: int) -> None:
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
            f"{lines} lines per chat, one every {interval:g} s per chat..."
        )
        process, port = self._server(processes)
        try:
            result = asyncio.run(converse(port, sessions, cookies, lines=lines, interval=interval))
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        delays, connect_ms, lost, elapsed, dropped = result
        rows = []
        for what, values in (("connect (both sides)", connect_ms), ("message delivery", delays)):
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
        self.stdout.write(
            f"{sent} lines in {elapsed:.1f} s ({sent / elapsed:.0f} lines/s); {lost} not delivered within 10 s; "
            f"{dropped} chats whose socket the server dropped or refused."
        )


async def converse(
    port: int, sessions: list[tuple[int, str]], cookies: list[str], *, lines: int, interval: float
) -> tuple[list[float], list[float], int, float, int]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.typing import Origin

    origin = Origin(f"http://127.0.0.1:{port}")
    delays: list[float] = []
    connect_ms: list[float] = []
    lost = 0

    async def drain_until_state(ws) -> None:
        while json.loads(await ws.recv())["type"] != "state":
            pass

    dropped = 0

    async def one_chat(n: int, session_id: int, token: str, cookie: str) -> None:
        nonlocal lost, dropped
        base = f"ws://127.0.0.1:{port}/ws/chat/{session_id}/"
        t0 = time.perf_counter()
        done = 0
        try:
            async with (
                connect(f"{base}?token={token}", origin=origin, open_timeout=60) as visitor,
                connect(base, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=60) as desk,
            ):
                await drain_until_state(visitor)
                await drain_until_state(desk)
                connect_ms.append((time.perf_counter() - t0) * 1000)
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
                        delays.append((time.perf_counter() - sent) * 1000)
                    except TimeoutError:
                        lost += 1
                    await asyncio.sleep(max(0.0, interval + random.uniform(-interval / 4, interval / 4)))
        except (OSError, TimeoutError, ConnectionClosed, InvalidStatus):  # the server dropped or refused it
            dropped += 1
            lost += lines - done

    started = time.perf_counter()
    await asyncio.gather(*(one_chat(n, sid, token, cookies[n]) for n, (sid, token) in enumerate(sessions)))
    return delays, connect_ms, lost, time.perf_counter() - started, dropped
