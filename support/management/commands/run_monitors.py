"""``python manage.py run_monitors [--seconds N] [--once]``: run the monitors' checks as they fall due.

The beat does the same (``support.tasks.run_monitor_checks``, on the "timers" queue); this is the
same loop as a process of its own, for a deployment that prefers one (or a replay with ``--once``).
Running it beside the beat, or twice, is harmless: each check is claimed by one runner. It stops
after ``--seconds`` (0, the default: until interrupted) and prints what it did.
"""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from monitors import runner
from support import usecases


class Command(BaseCommand):
    help = "Run the monitors' checks as they fall due (until interrupted, or for --seconds), and print a summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default: never)")
        parser.add_argument("--once", action="store_true", help="one pass over what is due now, then stop")

    def handle(self, *args, **options) -> None:
        if options["once"]:
            self.stdout.write(str(usecases.monitor_checks(now=timezone.now())))
            return
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        result = runner.run_loop(usecases.monitor_checked, seconds=options["seconds"], stop=lambda: stopping)
        self.stdout.write(str(result))
