"""``manage.py bench_mail``: inbound email to ticket, end to end, through the real SMTP listener.

Like the other benches it never touches the developer's database: without DATABASE_URL it
runs itself again in a child process on a separate SQLite file (var/bench_mail.sqlite3 by
default); with DATABASE_URL set (PostgreSQL, say) it uses that database as given.

It starts the gateway as `make run` does (``manage.py mailgate``, its own process, on a free
loopback port), then --clients SMTP clients, one connection each, send --emails messages
between them: new requests from known customers (text and HTML, a quoted signature), replies
to open tickets (In-Reply-To the desk's thread id, a quoted history to cut), one in ten with a
small attachment, one in twenty from an address the desk does not know yet. Each message is
timed from DATA to the 250 (stored and committed); the rate is messages over the wall time.
Statements per message are counted in this process, on a sample through the same use case.
Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import logging
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from accounts import demo
from bench.harness import OwnDatabaseCommand, Statements, percentile, render_table
from inbound.models import InboundMail
from support import usecases
from tickets.models import Ticket

TARGET_PER_SECOND = 100.0
TARGET = f">= {TARGET_PER_SECOND:.0f} emails/s on PostgreSQL"
CUSTOMERS = 50
OPEN_TICKETS = 50
WARM_UP = 20
SAMPLE = 40
QUOTE = "\n".join(f"> Line {n} of what the desk wrote before, quoted by the customer's client." for n in range(12))
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000a49444154789c6300010000050001"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compose(n: int, *, run: str, customers: list[str], tickets: list[Ticket]) -> bytes:
    """The n-th message of a run: a new request, a reply, with or without an attachment, known or not."""
    message = EmailMessage()
    sender = f"newcomer-{run}-{n}@example.org" if n % 20 == 7 else customers[n % len(customers)]
    message["To"] = "support@sofacoverpro.com"
    message["Message-ID"] = f"<bench-{run}-{n}@mail.example.com>"
    words = f"Order {n}: the cover for my three-seater arrived in the wrong colour. Can you send the grey one?"
    if n % 5 == 3 and tickets:  # a reply to an open ticket
        ticket = tickets[n % len(tickets)]
        sender = ticket.requester.username
        thread = f"<{(ticket.reference or '').lower()}@{settings.NOTIFY_MESSAGE_ID_DOMAIN}>"
        message["Subject"] = f"Re: [{ticket.reference}] {ticket.subject}"
        message["In-Reply-To"], message["References"] = thread, thread
        header = "On Tue, 3 Mar 2026 at 09:02, SofaCover Pro Support <support@sofacoverpro.com> wrote:"
        text = f"{words}\n\n{header}\n{QUOTE}\n"
    else:
        message["Subject"] = f"Wrong colour, order {n}"
        text = f"Hello,\n\n{words}\n\n-- \nA Customer\n+44 7700 900123\n"
    message["From"] = sender
    message.set_content(text)
    message.add_alternative(
        f"<div dir='ltr'><p>{words}</p><div class='gmail_quote'>{QUOTE}</div></div>", subtype="html"
    )
    if n % 10 == 1:
        message.add_attachment(PNG, maintype="image", subtype="png", filename="photo.png")
    return message.as_bytes(policy=SMTP)


class Command(OwnDatabaseCommand):
    help = "Benchmark inbound email -> ticket through the SMTP gateway (emails/s, latency)."
    child_options = ("emails", "clients", "workers", "processes")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--emails", type=int, default=2000, help="Messages to time (default 2000).")
        parser.add_argument("--clients", type=int, default=4, help="Concurrent SMTP clients (default 4).")
        parser.add_argument("--workers", type=int, default=4, help="The gateway's worker threads (default 4).")
        parser.add_argument(
            "--processes", type=int, default=2, help="The gateway's worker processes (default 2; 0: threads)."
        )
        super().add_arguments(parser)

    def handle(self, *args: object, **options: object) -> None:
        emails, clients = int(str(options["emails"])), int(str(options["clients"]))
        workers, processes = int(str(options["workers"])), int(str(options["processes"]))
        if emails < 1 or clients < 1 or workers < 1 or processes < 0:
            raise CommandError("--emails, --clients and --workers must be at least 1, --processes at least 0.")
        if self.rerun_elsewhere(options):
            return
        self._run(emails=emails, clients=clients, workers=workers, processes=processes)

    def _run(self, *, emails: int, clients: int, workers: int, processes: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        customers = [user.username for user in demo.load_customers_ensure(CUSTOMERS)]
        now = timezone.now()
        threads = Ticket.objects.filter(subject__startswith="Bench thread", status__in=Ticket.ACTIVE_STATUSES)
        open_tickets = list(threads.select_related("requester")[:OPEN_TICKETS])
        if not open_tickets:
            requester = demo.load_customers_ensure(1)[0]
            open_tickets = [
                usecases.file_ticket(requester=requester, subject=f"Bench thread {n}", description="x", now=now)
                for n in range(OPEN_TICKETS)
            ]
        run = uuid.uuid4().hex[:8]
        batch = [compose(n, run=run, customers=customers, tickets=open_tickets) for n in range(WARM_UP + emails)]
        stored_before = InboundMail.objects.count()

        port = free_port()
        gateway = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "mailgate", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--processes", str(processes)],
            # Every message acknowledged (no hourly cap: the bench mails each customer many times); quiet logs.
            env={**os.environ, "MAIL_AUTO_REPLIES_PER_HOUR": "1000000", "DJANGO_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            self._wait_for(port)
            self._send(port, batch[:WARM_UP], clients=1)
            self.stdout.write(f"Sending {emails:,} messages with {clients} client(s)...")
            started = time.perf_counter()
            latencies = self._send(port, batch[WARM_UP:], clients=clients)
            wall = time.perf_counter() - started
        finally:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(timeout=60)
            except subprocess.TimeoutExpired:
                gateway.kill()
        stored = InboundMail.objects.count() - stored_before
        if stored != WARM_UP + emails:
            raise CommandError(f"{WARM_UP + emails} messages sent, {stored} stored.")
        per_mail = self._statements(run=run, customers=customers, tickets=open_tickets)
        rate = emails / wall
        met = "n/a (SQLite)" if connection.vendor != "postgresql" else ("yes" if rate >= TARGET_PER_SECOND else "NO")
        header = ["what", "gateway", "emails", "clients", "wall s", "emails/s", "p50 ms", "p95 ms", "statements/email"]
        row = [
            "SMTP -> ticket",
            f"{processes} processes" if processes else f"{workers} threads",
            f"{emails:,}",
            str(clients),
            f"{wall:.1f}",
            f"{rate:.0f}",
            f"{percentile(latencies, 50):.0f}",
            f"{percentile(latencies, 95):.0f}",
            f"{min(per_mail)}-{max(per_mail)}",
        ]
        self.stdout.write(render_table([*header, "target", "met"], [[*row, TARGET, met]]))

    def _wait_for(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise CommandError("The mail gateway did not start.")

    def _send(self, port: int, messages: list[bytes], *, clients: int) -> list[float]:
        """Send ``messages`` split between ``clients`` connections; each message's ms from DATA to 250."""
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def client(share: list[bytes]) -> None:
            mine = []
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                smtp.ehlo()
                for raw in share:
                    started = time.perf_counter()
                    smtp.mail("bench@example.com")
                    smtp.rcpt("support@sofacoverpro.com")
                    code, text = smtp.data(raw)
                    mine.append((time.perf_counter() - started) * 1000)
                    if code != 250:
                        with lock:
                            failures.append(f"{code} {text!r}")
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client, args=(messages[i::clients],)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise CommandError(f"{len(failures)} messages refused, e.g. {failures[0]}")
        return latencies

    def _statements(self, *, run: str, customers: list[str], tickets: list[Ticket]) -> list[int]:
        """Statements per message through the same use case, in this process, on a sample."""
        counts = []
        logging.getLogger("inbound").setLevel(logging.WARNING)
        for n in range(SAMPLE):
            raw = compose(n, run=f"{run}-count", customers=customers, tickets=tickets)
            counter = Statements()
            with override_settings(MAIL_AUTO_REPLIES_PER_HOUR=1_000_000), connection.execute_wrapper(counter):
                usecases.receive_email(raw, now=timezone.now())
            counts.append(counter.count)
        return counts
