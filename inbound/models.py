"""What arrives by email, which addresses the desk may still write to, and callers' phone numbers.

Fields, choices and constraints only: every change is in services.py, every read in selectors.py.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy

from tickets.models import Message, Ticket


def raw_mail_path(instance: InboundMail, filename: str) -> str:
    return f"inbound/{instance.uuid.hex[:2]}/{instance.uuid.hex}.eml"


class InboundMail(models.Model):
    """One message the gateway accepted, whatever became of it. Its Message-ID is unique: the same
    message delivered twice (a retry, two pollers, the webhook and SMTP both) is stored once."""

    class Door(models.TextChoices):
        SMTP = "smtp", gettext_lazy("SMTP")
        IMAP = "imap", gettext_lazy("IMAP mailbox")
        WEBHOOK = "webhook", gettext_lazy("Provider webhook")

    class Outcome(models.TextChoices):
        OPENED = "opened", gettext_lazy("Opened a ticket")
        REPLIED = "replied", gettext_lazy("Added to a ticket")
        FOLLOW_UP = "follow_up", gettext_lazy("Opened a follow-up to a closed ticket")
        BOUNCE = "bounce", gettext_lazy("Delivery report (bounce)")
        IGNORED = "ignored", gettext_lazy("Ignored (the desk's own mail or a loop)")
        REFUSED = "refused", gettext_lazy("Refused")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The message's own Message-ID ("<...>"); a digest of the bytes when it has none or one too long.
    message_id = models.CharField(max_length=255, unique=True)
    door = models.CharField(max_length=10, choices=Door.choices)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    size = models.PositiveIntegerField()
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # Why it was ignored or refused, which attachments were not accepted.
    note = models.CharField(max_length=500, blank=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # A reply: the message it became, whose attachments include the original as .eml (a new
    # ticket has it on its first message).
    stored_message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # A reply to a closed ticket opens a new one: the closed ticket it answered.
    follow_up_of = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The original, for mail that became no message (bounces, ignored, refused); agents read it in the console.
    raw = models.FileField(upload_to=raw_mail_path, max_length=200, blank=True)
    auto_replied = models.BooleanField(default=False)

    class Meta:
        verbose_name = gettext_lazy("inbound email")
        verbose_name_plural = gettext_lazy("inbound emails")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["ticket", "received_at"], name="inbound_ticket_idx"),
            models.Index(fields=["-received_at"], name="inbound_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} from {self.sender or '?'}: {self.get_outcome_display()}"


class MailAddress(models.Model):
    """An address the desk writes to: whether it bounced, and (through AutoReply) how often it was answered."""

    address = models.CharField(max_length=254, unique=True)
    # Set by a permanent delivery failure (a DSN): no mail goes to it from then on.
    undeliverable_at = models.DateTimeField(null=True, blank=True)
    bounce_status = models.CharField(max_length=20, blank=True)
    bounce_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["address"]
        verbose_name_plural = gettext_lazy("mail addresses")

    def __str__(self) -> str:
        return self.address


class AutoReply(models.Model):
    """One automatic mail the desk sent in answer to inbound mail: the hourly cap counts these."""

    address = models.ForeignKey(MailAddress, on_delete=models.CASCADE, related_name="auto_replies")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["address", "at"], name="autoreply_address_at_idx")]
        verbose_name_plural = gettext_lazy("auto replies")

    def __str__(self) -> str:
        return f"auto reply to {self.address_id} at {self.at:%Y-%m-%d %H:%M}"


E164 = RegexValidator(r"^\+[1-9]\d{6,14}$", "Enter the number in international format, e.g. +447700900123.")


class CallerPhone(models.Model):
    """A customer's phone number, so an agent taking a call finds them by it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caller_phone")
    number = models.CharField(max_length=16, unique=True, validators=[E164])

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number
