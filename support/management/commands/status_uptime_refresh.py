"""``python manage.py status_uptime_refresh [--days N]``: recount the uptime checks per component and day.

The beat recounts today and yesterday every STATUS_UPTIME_SECONDS; run this with ``--days 90`` once after
adding monitors to an existing desk, or after moving a monitor to another component, to recount the status
page's whole history. Harmless beside the beat or twice.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from incidents.status import HISTORY_DAYS
from support import usecases


class Command(BaseCommand):
    help = "Recount the uptime checks per component and desk day for the status page and the scorecard."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=HISTORY_DAYS, help=f"Days ending today (1 to {HISTORY_DAYS}).")

    def handle(self, *args, days: int, **options) -> None:
        if not 1 <= days <= HISTORY_DAYS:
            raise CommandError(f"--days must be between 1 and {HISTORY_DAYS}.")
        stored = usecases.status_uptime_refresh(now=timezone.now(), days=days)
        self.stdout.write(f"{stored} component-days of uptime checks stored over {days} days.")
