"""The notification outbox and the alert configuration managers edit (the notifications app's models).

Every alert, mail and message is a row first. A row is written in the same
transaction as its cause (an escalation, a breach, a new ticket), under a
unique dedupe key, and sent after commit by a worker with retries and backoff.
A crash, a retry or a second sweep can therefore neither lose a notification
nor queue it twice.

Routing is data, seeded from the procedures document: per priority the
channels, the Slack channel, who is on call and where generic webhooks go;
the customer and internal communication templates live here too.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from tickets.models import Message, Ticket

from .urlsafety import validate_destination

E164 = RegexValidator(r"^\+[1-9]\d{6,14}$", "Enter the number in international format, e.g. +447700900123.")
SLACK_NAME = RegexValidator(r"^#[a-z0-9][a-z0-9_-]{0,79}$", "A Slack channel name such as #support-critical.")


class SlackChannel(models.Model):
    name = models.CharField(max_length=81, unique=True, validators=[SLACK_NAME])
    purpose = models.CharField(max_length=200, blank=True)
    webhook_url = models.URLField(
        "incoming-webhook URL",
        max_length=500,
        blank=True,
        validators=[validate_destination],
        help_text=gettext_lazy(
            "Slack's incoming-webhook URL for this channel. Empty: the channel is not configured "
            "and its alerts are skipped. Only public addresses are accepted."
        ),
    )

    class Meta:
        verbose_name = gettext_lazy("Slack channel")
        verbose_name_plural = gettext_lazy("Slack channels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url)


class AlertRoute(models.Model):
    """Which channels an alert about a ticket of this priority goes out on."""

    priority = models.CharField(max_length=2, choices=Ticket.Priority.choices, unique=True)
    phone = models.BooleanField("phone call", default=False)
    sms = models.BooleanField("SMS", default=False)
    slack = models.BooleanField(default=False)
    email = models.BooleanField(default=False)
    dashboard = models.BooleanField(default=False)
    webhook = models.BooleanField("generic webhooks", default=False)
    slack_channel = models.ForeignKey(
        SlackChannel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routes",
        help_text=gettext_lazy("Where this priority's alerts and breaches are posted."),
    )
    quiet_hours = models.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "Hold alerts to people outside the priority's business calendar and deliver them when it opens."
        ),
    )

    class Meta:
        ordering = ["priority"]

    def __str__(self) -> str:
        return f"{self.priority}: {', '.join(self.channels) or 'no channel'}"

    @property
    def channels(self) -> list[str]:
        return [name for name in ("phone", "sms", "slack", "email", "dashboard", "webhook") if getattr(self, name)]

    def clean(self) -> None:
        if self.slack and self.slack_channel_id is None:
            raise ValidationError({"slack_channel": "Choose the Slack channel this priority posts to."})


class Responder(models.Model):
    """An agent's paging details: phone number for SMS and calls, and whether they are on call."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="responder")
    phone_number = models.CharField(max_length=16, blank=True, validators=[E164])
    on_call = models.BooleanField(default=False)

    class Meta:
        ordering = ["user__email"]

    def __str__(self) -> str:
        return f"{self.user.email}{' (on call)' if self.on_call else ''}"


class WebhookEndpoint(models.Model):
    name = models.CharField(max_length=100, unique=True)
    url = models.URLField("URL", max_length=500, validators=[validate_destination])
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CommunicationTemplate(models.Model):
    """A message the desk sends, with named placeholders such as {{ customer_name }}."""

    class Key(models.TextChoices):
        TICKET_ACKNOWLEDGMENT = "ticket_acknowledgment", gettext_lazy("Ticket acknowledgment (customer)")
        TICKET_RESOLUTION = "ticket_resolution", gettext_lazy("Ticket resolution notice (customer)")
        ACKNOWLEDGMENT = "acknowledgment", gettext_lazy("Customer incident acknowledgment")
        RESOLUTION = "resolution", gettext_lazy("Customer incident resolution notification")
        INCIDENT_DECLARATION = "incident_declaration", gettext_lazy("Internal incident declaration")

    key = models.CharField(max_length=30, choices=Key.choices, unique=True)
    subject = models.CharField(max_length=300)
    body_text = models.TextField("text body", max_length=20000)
    body_html = models.TextField(
        "HTML body",
        max_length=40000,
        blank=True,
        help_text=gettext_lazy("Empty: the HTML part is built from the text body."),
    )

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.get_key_display()

    def clean(self) -> None:
        from .messages import validate_template

        validate_template(self)


class SendSlot(models.Model):
    """Rate limit per destination (a Slack channel, a phone): nobody sends to it before ``next_at``."""

    key = models.CharField(max_length=120, unique=True)
    next_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.key


class Notification(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", gettext_lazy("Email")
        SLACK = "slack", gettext_lazy("Slack")
        SMS = "sms", gettext_lazy("SMS")
        PHONE = "phone", gettext_lazy("Phone call")
        WEBHOOK = "webhook", gettext_lazy("Webhook")
        DASHBOARD = "dashboard", gettext_lazy("Dashboard")

    class Status(models.TextChoices):
        PENDING = "pending", gettext_lazy("Pending")
        HELD = "held", gettext_lazy("Held for quiet hours")
        SENDING = "sending", gettext_lazy("Sending")
        SENT = "sent", gettext_lazy("Sent")
        DEAD = "dead", gettext_lazy("Failed (dead letter)")
        SKIPPED = "skipped", gettext_lazy("Skipped (channel not configured)")

    class Kind(models.TextChoices):
        TICKET_CREATED = "ticket_created", gettext_lazy("New ticket")
        ACKNOWLEDGMENT = "acknowledgment", gettext_lazy("Customer acknowledgment")
        RESOLUTION = "resolution", gettext_lazy("Customer resolution notice")
        REPLY = "reply", gettext_lazy("Agent reply (to the customer and CCs)")
        CUSTOMER_REPLY = "customer_reply", gettext_lazy("Customer replied")
        ESCALATED = "escalated", gettext_lazy("Escalation")
        BREACH_WARNING = "breach_warning", gettext_lazy("Breach warning")
        BREACHED = "breached", gettext_lazy("Breach")
        SYSTEM = "system", gettext_lazy("System alert")
        INCIDENT_DECLARED = "incident_declared", gettext_lazy("Incident declared")
        INCIDENT_UPDATE = "incident_update", gettext_lazy("Incident update")
        INCIDENT_ACK = "incident_ack", gettext_lazy("Incident acknowledgment (customer)")
        INCIDENT_RESOLVED = "incident_resolved", gettext_lazy("Incident resolution notification (customer)")
        UPDATE_DUE = "update_due", gettext_lazy("Incident update due")
        REVIEW_OVERDUE = "review_overdue", gettext_lazy("Review item overdue")
        STATUS_CONFIRM = "status_confirm", gettext_lazy("Status page subscription confirmation")
        STATUS_UPDATE = "status_update", gettext_lazy("Status page update (subscriber)")

    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Who or where: an email address, a phone number, a Slack channel name, a webhook's name.
    recipient = models.CharField(max_length=300)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications")
    webhook = models.ForeignKey(
        WebhookEndpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    # The reply this mail carries (an agent's reply to the customer and CCs), or the customer's
    # reply an alert is about.
    reply = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    body_html = models.TextField(blank=True)
    # One line for Slack digests; the JSON document for webhooks.
    payload = models.JSONField(default=dict, blank=True)
    # Unique per logical notification: a second attempt to queue it is a no-op.
    dedupe_key = models.CharField(max_length=200, unique=True)
    # Email: generated when queued and reused by every attempt, so a resend is recognisable; an
    # inbound reply's In-Reply-To / References find the ticket through it (selectors.ticket_for_message_ids).
    message_id = models.CharField(max_length=200, blank=True)
    # Email: the thread it follows, oldest first (the ticket's root id, then the Message-IDs this
    # recipient was sent about the ticket): References, and its last one In-Reply-To.
    references = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    hold_until = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Which relay run claimed the row (a random token): the claim is a conditional UPDATE.
    claim = models.CharField(max_length=32, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(
        null=True, blank=True, help_text=gettext_lazy("Dashboard items: when the agent read it.")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_due_idx",
                condition=Q(status__in=["pending", "held", "sending"]),
            ),
            models.Index(fields=["user", "channel", "-created_at"], name="outbox_user_feed_idx"),
            models.Index(fields=["status", "-created_at"], name="outbox_status_idx"),
            models.Index(fields=["message_id"], name="outbox_message_id_idx", condition=~Q(message_id="")),
            # A recipient's earlier mail about a ticket: the References of the next one.
            models.Index(
                fields=["ticket", "recipient", "created_at"],
                name="outbox_thread_idx",
                condition=Q(channel="email"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="held") | Q(hold_until__isnull=False), name="outbox_held_has_hold_until"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.recipient}: {self.subject or self.kind}"


class DashboardItem(Notification):
    """An agent's in-app notifications: the dashboard channel, seen through its own admin page."""

    class Meta:
        proxy = True
        verbose_name = gettext_lazy("my notification")
        verbose_name_plural = gettext_lazy("my notifications")
