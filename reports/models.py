"""The reports' own tables: the permission anchor, and the rollup the scorecard reads.

The rollup is derived data, rebuilt at will by ``manage.py reports_rebuild`` and
kept current in the transaction of every ticket change (support.usecases):

- ``TicketFact``: one narrow row per ticket, what that ticket contributes to the
  figures under the reports' definitions (its dimensions, desk-time days, wall-clock
  durations, within-target and first-contact flags, breaches, rating). It is
  also what a change subtracts from the daily rows before adding the new values.
- ``DailyRollup``: per desk-time day and priority, tier, category, channel and
  assignee, the counts and sums of the tickets created that day and of those
  resolved that day.
- ``DurationHistogram``: per day, clock and priority, how many durations fall
  into each logarithmic bucket; with ``TicketFact``'s (bucket, seconds) index it
  gives exact medians and p90s by reading one bucket instead of sorting the range.

A key of the daily rows and histograms has up to ``rollup.SLOTS`` rows (``slot``): a
change writes the row its ticket's id picks, so changes to the same figures at once
(every chat answered this minute lands in one histogram bucket) do not queue on one
row lock; readers sum the slots, and a nightly fold leaves one row per key for the
days past.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from tickets.models import Ticket


class Report(models.Model):
    """No table: the anchor of the ``reports.view_reports`` permission (granted to Managers and Admins)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", "Can view the management reports, their CSV exports and the reports API")]

    def __str__(self) -> str:
        return "reports"


class TicketFact(models.Model):
    """What one ticket contributes to the reports; every column is derived from the ticket and its records."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="+")
    priority = models.CharField(max_length=2)
    tier = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=20)
    channel = models.CharField(max_length=10)
    assignee_id = models.IntegerField(
        default=0, help_text=gettext_lazy("0: nobody")
    )  # no FK: derived data, never joined
    created_at = models.DateTimeField()
    created_day = models.DateField()
    resolved_at = models.DateTimeField(null=True)
    resolved_day = models.DateField(null=True)
    # Still being worked on (new, open, waiting on the customer): the backlog.
    active = models.BooleanField(default=True)
    # The SLA engine's deadlines, for the clocks still running (overdue now, worst offenders).
    first_response_due_at = models.DateTimeField(null=True)
    resolution_due_at = models.DateTimeField(null=True)
    response_seconds = models.FloatField(null=True)
    response_bucket = models.IntegerField(null=True)
    response_met = models.BooleanField(default=False)
    response_late_seconds = models.FloatField(null=True)
    response_breached = models.BooleanField(default=False)
    resolution_seconds = models.FloatField(null=True)
    resolution_bucket = models.IntegerField(null=True)
    resolution_microseconds = models.BigIntegerField(null=True)  # summed exactly for the means (MTTR)
    resolution_met = models.BooleanField(default=False)
    resolution_late_seconds = models.FloatField(null=True)
    resolution_breached = models.BooleanField(default=False)
    first_contact = models.BooleanField(default=False)
    rating = models.PositiveSmallIntegerField(null=True)

    class Meta:
        indexes = [
            # Exact percentiles: walk one bucket in value order (index-only on PostgreSQL).
            models.Index(
                fields=["response_bucket", "response_seconds", "created_day", "priority"],
                name="fact_response_rank_idx",
                condition=Q(response_bucket__isnull=False),
            ),
            models.Index(
                fields=["resolution_bucket", "resolution_seconds", "resolved_day", "priority"],
                name="fact_resolution_rank_idx",
                condition=Q(resolution_bucket__isnull=False),
            ),
            # Filtered scorecards (tier, category, channel, agent) and the range scans.
            models.Index(fields=["created_day", "priority"], name="fact_created_idx"),
            models.Index(fields=["resolved_day", "priority"], name="fact_resolved_idx"),
            # What the clock decides at read time: running clocks by deadline, the backlog by age
            # (index-only: every column those queries read).
            models.Index(
                fields=["first_response_due_at", "created_day", "priority", "ticket"],
                name="fact_unanswered_idx",
                condition=Q(response_seconds__isnull=True),
            ),
            models.Index(
                fields=["resolution_due_at", "created_day", "priority", "ticket"],
                name="fact_unresolved_idx",
                condition=Q(resolved_at__isnull=True),
            ),
            models.Index(
                fields=["priority", "created_at", "ticket"], name="fact_backlog_idx", condition=Q(active=True)
            ),
            # Worst offenders: the latest first.
            models.Index(
                fields=["-response_late_seconds"],
                name="fact_response_late_idx",
                condition=Q(response_late_seconds__isnull=False),
            ),
            models.Index(
                fields=["-resolution_late_seconds"],
                name="fact_resolution_late_idx",
                condition=Q(resolution_late_seconds__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"report fact of ticket {self.ticket_id}"


class DailyRollup(models.Model):
    """Per desk-time day and dimensions: created-that-day and resolved-that-day counts and sums."""

    day = models.DateField()
    priority = models.CharField(max_length=2)
    tier = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=20)
    channel = models.CharField(max_length=10)
    assignee_id = models.IntegerField(default=0)
    # Tickets created this day.
    created = models.IntegerField(default=0)
    answered = models.IntegerField(default=0)
    response_met = models.IntegerField(default=0)
    response_breached = models.IntegerField(default=0)
    # Tickets resolved this day (their latest resolution).
    resolved = models.IntegerField(default=0)
    resolution_met = models.IntegerField(default=0)
    resolution_breached = models.IntegerField(default=0)
    resolution_microseconds = models.BigIntegerField(default=0)
    first_contact = models.IntegerField(default=0)
    ratings = models.IntegerField(default=0)
    score_1 = models.IntegerField(default=0)
    score_2 = models.IntegerField(default=0)
    score_3 = models.IntegerField(default=0)
    score_4 = models.IntegerField(default=0)
    score_5 = models.IntegerField(default=0)
    # Which of the key's rows (see rollup.SLOTS): writers spread over them, readers sum them.
    slot = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "priority", "tier", "category", "channel", "assignee_id", "slot"],
                name="rollup_one_row_per_key_slot",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.priority} tier {self.tier} {self.category} {self.channel} agent {self.assignee_id}"


class DurationHistogram(models.Model):
    """Per desk-time day, clock and priority: how many durations fall in each logarithmic bucket."""

    class Clock(models.TextChoices):
        RESPONSE = "response", gettext_lazy("First response (by day created)")
        RESOLUTION = "resolution", gettext_lazy("Resolution (by day resolved)")

    day = models.DateField()
    clock = models.CharField(max_length=10, choices=Clock.choices)
    priority = models.CharField(max_length=2)
    bucket = models.IntegerField()
    n = models.IntegerField(default=0)
    slot = models.PositiveSmallIntegerField(default=0)  # as DailyRollup.slot

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "clock", "priority", "bucket", "slot"], name="histogram_one_row_per_key_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.clock} {self.priority} bucket {self.bucket}: {self.n}"
