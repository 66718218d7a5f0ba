"""``python manage.py fetch_mail``: read the hosted mailbox (MAIL_IMAP_*) once, as the beat does every
MAIL_IMAP_POLL_SECONDS, and print what it did."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inbound.imap import MailboxError
from support import mail


class Command(BaseCommand):
    help = "Fetch new mail from the IMAP mailbox into the desk, once."

    def handle(self, *args: object, **options: object) -> None:
        try:
            result = mail.fetch_mail()
        except MailboxError as exc:
            raise CommandError(str(exc)) from exc
        if result is None:
            raise CommandError("No mailbox is configured: set MAIL_IMAP_HOST (and MAIL_IMAP_USER, MAIL_IMAP_PASSWORD).")
        self.stdout.write(str(result))
