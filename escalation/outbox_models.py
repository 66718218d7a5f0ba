"""The notification outbox: every alert, mail and message is a row first.

A row is written in the same transaction as its cause (an escalation, a
breach, a new ticket), under a unique dedupe key, and sent after commit by a
worker with retries and backoff. A crash, a retry or a second sweep can
therefore neither lose a notification nor queue it twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tickets.models import Ticket


class Notification(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        SMS = "sms", "SMS"
        PHONE = "phone", "Phone call"
        WEBHOOK = "webhook", "Webhook"
        DASHBOARD = "dashboard", "Dashboard"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        HELD = "held", "Held for quiet hours"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DEAD = "dead", "Failed (dead letter)"
        SKIPPED = "skipped", "Skipped (channel not configured)"

    class Kind(models.TextChoices):
        TICKET_CREATED = "ticket_created", "New ticket"
        ACKNOWLEDGMENT = "acknowledgment", "Customer acknowledgment"
        RESOLUTION = "resolution", "Customer resolution notice"
        ESCALATED = "escalated", "Escalation"
        BREACH_WARNING = "breach_warning", "Breach warning"
        BREACHED = "breached", "Breach"
        SYSTEM = "system", "System alert"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Who or where: an email address, a phone number, a Slack channel name, a URL.
    recipient = models.CharField(max_length=300)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications")
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    # Unique per logical notification: a second attempt to queue it is a no-op.
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    hold_until = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True, help_text="Dashboard items: when the agent read it.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_due_idx",
                condition=Q(status__in=["pending", "held", "sending"]),
            ),
            models.Index(fields=["user", "channel", "-created_at"], name="outbox_user_feed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.recipient}: {self.subject or self.kind}"
