"""``python manage.py mailgate [--host H] [--port P]``: the SMTP listener `make run` starts (Procfile "mail").

Listens on MAIL_GATEWAY_HOST:MAIL_GATEWAY_PORT until SIGTERM or SIGINT; every message goes to
support.usecases.receive_email. Put it behind the desk's MX, or have the MTA relay the desk's
addresses to it.
"""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from support import mail


class Command(BaseCommand):
    help = "Run the inbound SMTP gateway until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.MAIL_GATEWAY_HOST)
        parser.add_argument("--port", type=int, default=settings.MAIL_GATEWAY_PORT)
        parser.add_argument("--workers", type=int, default=4, help="Messages handled at once, in threads (default 4).")
        parser.add_argument(
            "--processes", type=int, default=0, help="Handle messages in this many processes instead (several cores)."
        )

    def handle(self, *args: object, **options: object) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        gateway = mail.smtp_gateway(
            hostname=str(options["host"]),
            port=int(str(options["port"])),
            workers=int(str(options["workers"])),
            processes=int(str(options["processes"])),
        )
        gateway.start()
        self.stdout.write(f"Mail gateway listening on {options['host']}:{options['port']}", ending="\n")
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            gateway.stop()
            self.stdout.write("Mail gateway stopped.")
