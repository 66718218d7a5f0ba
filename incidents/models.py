"""Incidents, the components the public status page shows, and post-incident reviews.

Fields, choices, constraints and indexes only: every state change lives in
services.py, every read in selectors.py. Who hears about an incident is not
this app's business: the use cases (support.usecases) hand what happened to
notifications, in the same transaction.

Public and internal parts are separate fields, so the status page can be built
from an explicit list of public ones: a component's name and description; an
incident's title, severity, status, components, times and its public updates;
maintenance windows. Everything else (impact, war room, commander, actions,
internal updates, linked tickets, the review) is internal.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy

from tickets.models import Ticket

SEVERITIES = Ticket.Priority


class Component(models.Model):
    """A part of the shop the status page reports on (storefront, checkout/payments, …)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Tickets of these categories are "in" the component: while an incident affecting it is
    # open, new ones are suggested for linking (a list of Ticket.Category values).
    ticket_categories = models.JSONField(default=list, blank=True)
    public = models.BooleanField(default=True, help_text=gettext_lazy("Shown on the public status page."))

    class Meta:
        verbose_name = gettext_lazy("component")
        verbose_name_plural = gettext_lazy("components")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class CheckedUptime(models.Model):
    """A component's uptime checks on one desk day (TIME_ZONE): how many ran and how many failed.

    Handed in by support (``support.usecases.status_uptime_refresh``, from monitors' check results and
    rollups; incidents never imports monitors): the status page's bars and the scorecard's uptime read it.
    A component with no row for a day has no checks that day, and the page falls back to its incidents.
    """

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="checked_uptime")
    date = models.DateField()
    checks = models.PositiveIntegerField()
    failures = models.PositiveIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["component", "date"], name="checked_uptime_one_per_day"),
            models.CheckConstraint(condition=Q(failures__lte=F("checks")), name="checked_uptime_failures_lte_checks"),
        ]
        indexes = [models.Index(fields=["date"], name="checked_uptime_date_idx")]

    def __str__(self) -> str:
        return f"{self.component} {self.date}: {self.checks - self.failures}/{self.checks}"


class Incident(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", gettext_lazy("Investigating")
        IDENTIFIED = "identified", gettext_lazy("Identified")
        MONITORING = "monitoring", gettext_lazy("Monitoring")
        RESOLVED = "resolved", gettext_lazy("Resolved")

    class Source(models.TextChoices):
        CONSOLE = "console", gettext_lazy("Console")
        API = "api", gettext_lazy("API")
        TICKET = "ticket", gettext_lazy("From a ticket")
        MONITOR = "monitor", gettext_lazy("Monitor")

    OPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)

    # INC-000042, derived like the ticket reference (selectors.reference).
    severity = models.CharField(max_length=2, choices=SEVERITIES.choices)
    title = models.CharField(max_length=200, help_text=gettext_lazy("Public: shown on the status page."))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVESTIGATING)
    public = models.BooleanField(default=True, help_text=gettext_lazy("Shown on the public status page."))
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CONSOLE)

    # Internal: the declaration's "Impact", with its user count.
    impact = models.TextField(max_length=2000)
    users_affected = models.PositiveIntegerField(null=True, blank=True)
    war_room = models.CharField(max_length=500, blank=True, help_text=gettext_lazy("A link or a place."))
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="commanded_incidents",
        help_text=gettext_lazy("The primary responder."),
    )
    # The ticket it was declared from, if any (it is linked as well).
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    components = models.ManyToManyField(Component, blank=True, related_name="incidents")
    tickets = models.ManyToManyField(Ticket, through="IncidentTicket", related_name="incidents")

    # What customers of linked tickets are told (the procedures' acknowledgment and resolution
    # notification); the commander writes them. Empty fields fall back to generic wording.
    functionality = models.CharField(
        "affected functionality",
        max_length=300,
        blank=True,
        help_text=gettext_lazy("The acknowledgment's [specific functionality]."),
    )
    expected_resolution = models.CharField(max_length=200, blank=True)
    what_happened = models.TextField(max_length=5000, blank=True)
    resolution = models.TextField(max_length=5000, blank=True)
    prevention = models.TextField(max_length=5000, blank=True)

    started_at = models.DateTimeField(
        help_text=gettext_lazy("When the problem began (the first failing check, for a monitor).")
    )
    detected_at = models.DateTimeField(help_text=gettext_lazy("When the desk knew: MTTD = detected - started."))
    declared_at = models.DateTimeField()
    identified_at = models.DateTimeField(null=True, blank=True)
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    # The update cadence (P0 every 30 min, P1 every 2 h): when the next update is due, and
    # when the commander was last warned that it is coming (once per due time).
    next_update_due_at = models.DateTimeField(null=True, blank=True)
    update_warned_for = models.DateTimeField(null=True, blank=True)
    # Monitors (issue 5 of 7) update their own open incident instead of declaring another.
    monitor_key = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = gettext_lazy("incident")
        verbose_name_plural = gettext_lazy("incidents")
        ordering = ["-declared_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-declared_at"], name="incident_status_idx"),
            models.Index(fields=["-started_at"], name="incident_started_idx"),
            models.Index(
                fields=["next_update_due_at"],
                name="incident_update_due_idx",
                condition=Q(next_update_due_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(detected_at__gte=F("started_at")), name="incident_detected_after_start"),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False)
                | (~Q(status="resolved") & Q(resolved_at__isnull=True)),
                name="incident_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("started_at")),
                name="incident_resolved_after_start",
            ),
            models.UniqueConstraint(
                fields=["monitor_key"],
                condition=~Q(monitor_key="") & ~Q(status="resolved"),
                name="incident_one_open_per_monitor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} [{self.severity}] {self.title}"

    @property
    def reference(self) -> str:
        return f"INC-{self.pk:06d}" if self.pk else "INC-new"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED


class IncidentAction(models.Model):
    """One line of the declaration's "Current Actions": a checklist item."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="actions")
    text = models.CharField(max_length=300)
    position = models.PositiveSmallIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class IncidentEvent(models.Model):
    """The incident's timeline: declaration, status changes, updates, links, review steps.

    ``public`` events (the declaration's public line, status updates written for customers)
    are the updates the status page shows; the rest are internal.
    """

    class Kind(models.TextChoices):
        DECLARED = "declared", gettext_lazy("Declared")
        STATUS = "status", gettext_lazy("Status changed")
        UPDATE = "update", gettext_lazy("Update")
        NOTE = "note", gettext_lazy("Internal note")
        LINKED = "linked", gettext_lazy("Ticket linked")
        UNLINKED = "unlinked", gettext_lazy("Ticket unlinked")
        EDITED = "edited", gettext_lazy("Edited")
        ACTION = "action", gettext_lazy("Action")
        RESOLVED = "resolved", gettext_lazy("Resolved")
        REVIEW = "review", gettext_lazy("Review")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The incident's status after this event (the status page labels each update with it).
    status = models.CharField(max_length=20, choices=Incident.Status.choices)
    body = models.TextField(max_length=5000, blank=True)
    public = models.BooleanField(default=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["incident", "at"], name="incident_event_idx"),
            models.Index(fields=["incident", "at"], name="incident_public_event_idx", condition=Q(public=True)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class IncidentTicket(models.Model):
    """A ticket linked to an incident: its customer hears about the incident, once per message."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="links")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="incident_links")
    linked_at = models.DateTimeField()
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # When the customer was sent the incident acknowledgment and the resolution notification
    # (the outbox's dedupe key makes each once; these say it on the page).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolution_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["linked_at", "id"]
        constraints = [models.UniqueConstraint(fields=["incident", "ticket"], name="incident_ticket_once")]
        indexes = [models.Index(fields=["ticket"], name="incident_link_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.incident_id} ↔ {self.ticket_id}"


class Maintenance(models.Model):
    """Scheduled maintenance, shown on the status page from when it is announced."""

    title = models.CharField(max_length=200)
    description = models.TextField(max_length=5000, blank=True)
    components = models.ManyToManyField(Component, blank=True, related_name="maintenances")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    cancelled = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at"]
        verbose_name = gettext_lazy("maintenance window")
        verbose_name_plural = gettext_lazy("maintenance windows")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="maintenance_ends_after_start")
        ]

    def __str__(self) -> str:
        return self.title


class Subscriber(models.Model):
    """Someone who asked for status page updates by email: double opt-in, one-click unsubscribe."""

    email = models.EmailField(max_length=254, unique=True)
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("status page subscriber")
        verbose_name_plural = gettext_lazy("status page subscribers")
        ordering = ["email"]
        indexes = [
            models.Index(
                fields=["email"],
                name="subscriber_active_idx",
                condition=Q(confirmed_at__isnull=False, unsubscribed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class Review(models.Model):
    """The post-incident review: its document and the procedures' action items."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    opened_at = models.DateTimeField()
    # Markdown, rendered through nh3 (as knowledge articles are).
    document = models.TextField(max_length=100_000, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("post-incident review")
        verbose_name_plural = gettext_lazy("post-incident reviews")

    def __str__(self) -> str:
        return f"Review of {self.incident}"


class ReviewItem(models.Model):
    class Phase(models.TextChoices):
        IMMEDIATE = "immediate", gettext_lazy("Within 2 hours")
        FOLLOW_UP = "follow_up", gettext_lazy("Within 48 hours")
        LONG_TERM = "long_term", gettext_lazy("Within 1 week")

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="items")
    phase = models.CharField(max_length=10, choices=Phase.choices)
    title = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    # Set when the overdue alert was queued (once per item).
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    # Runbook updates name the knowledge-base articles they changed.
    articles = models.ManyToManyField("knowledge.Article", blank=True, related_name="+")

    class Meta:
        ordering = ["due_at", "position", "id"]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="review_item_overdue_idx",
                condition=Q(done_at__isnull=True, overdue_alerted_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.title
