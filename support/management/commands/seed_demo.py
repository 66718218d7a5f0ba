"""Seed the demo desk (idempotent) and, with --tickets N, bulk-load N more tickets for load."""

from __future__ import annotations

import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from accounts import demo as account_demo
from support import demo as demo_tickets
from tickets import demo
from tickets.models import Ticket


def load_customer_count(tickets: int) -> int:
    """About two hundred tickets per load customer, between 1 and 500 customers."""
    return max(1, min(500, tickets // 200))


class Command(BaseCommand):
    help = "Create the demo logins and demo tickets once; --tickets N adds N bulk tickets for load tests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tickets",
            type=int,
            default=0,
            metavar="N",
            help="also bulk-load N realistic tickets with three messages each",
        )
        parser.add_argument("--batch-size", type=int, default=2000, help="tickets per INSERT transaction")

    def handle(self, *args, **options) -> None:
        count, batch_size = options["tickets"], options["batch_size"]
        if count < 0:
            raise CommandError("--tickets must be zero or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        now = timezone.now()
        users = account_demo.demo_users_ensure()
        self._report_users(users)
        if demo.demo_tickets_exist():
            self.stdout.write("Demo tickets already exist: nothing new created.")
        else:
            tickets = demo_tickets.demo_tickets_create(now=now)
            self.stdout.write(self.style.SUCCESS(f"Created {len(tickets)} demo tickets."))
        self._print_logins()
        if count:
            self._load(count, batch_size=batch_size, now=now)

    def _report_users(self, users) -> None:
        created = [spec.email for spec, _, was_created in users if was_created]
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created {len(created)} demo users."))
        else:
            self.stdout.write("Demo users already exist: passwords left unchanged.")

    def _print_logins(self) -> None:
        rows = [(spec.email, spec.role_label) for spec in account_demo.DEMO_USERS]
        width = max(len(email) for email, _ in rows)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password {account_demo.DEMO_PASSWORD!r} unless the account already existed):")
        self.stdout.write(f"  {'email'.ljust(width)}  role")
        self.stdout.write(f"  {'-' * width}  {'-' * 15}")
        for email, role in rows:
            self.stdout.write(f"  {email.ljust(width)}  {role}")
        base = f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}"
        self.stdout.write("")
        self.stdout.write(f"  customer portal  {base}/")
        self.stdout.write(f"  agent console    {base}/admin/")
        self.stdout.write(f"  API docs         {base}/api/v1/docs/")
        self.stdout.write("")

    def _load(self, count: int, *, batch_size: int, now) -> None:
        started = time.perf_counter()
        customers = account_demo.load_customers_ensure(load_customer_count(count))
        agents = account_demo.demo_agents()
        before = Ticket.objects.count()
        with tqdm(total=count, unit="tickets", file=sys.stderr, disable=None) as bar:
            loaded = demo.load_tickets_create(
                count,
                customers=customers,
                agents=agents,
                now=now,
                seed=before,  # another run adds different tickets
                batch_size=batch_size,
                on_batch=bar.update,
            )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {loaded} tickets with {3 * loaded} messages in {elapsed:.1f} s "
                f"({loaded / max(elapsed, 1e-9):.0f} tickets/s)."
            )
        )
