"""SLA policies, business calendars, escalation rules, and what the engine records.

Every escalation and breach is a row protected by a unique constraint, written
in the same transaction as the change it belongs to, so a retry, a second
sweep or a crash can never make it happen twice or not at all.
"""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, gettext_lazy

from tickets.models import Ticket

from . import sla

SHARE = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(gettext("“%(value)s” is not a time zone name such as Europe/London.") % {"value": value})


class BusinessCalendar(models.Model):
    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="Europe/London", validators=[validate_time_zone])
    always_open = models.BooleanField(
        default=False, help_text=gettext_lazy("24x7: opening hours and holidays are ignored.")
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (24x7)" if self.always_open else f"{self.name} ({self.time_zone})"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class OpeningHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, gettext_lazy("Monday")
        TUESDAY = 1, gettext_lazy("Tuesday")
        WEDNESDAY = 2, gettext_lazy("Wednesday")
        THURSDAY = 3, gettext_lazy("Thursday")
        FRIDAY = 4, gettext_lazy("Friday")
        SATURDAY = 5, gettext_lazy("Saturday")
        SUNDAY = 6, gettext_lazy("Sunday")

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text=gettext_lazy("00:00 means midnight at the end of the day."))

    class Meta:
        ordering = ["calendar", "weekday", "opens"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "weekday", "opens"], name="hours_unique_start"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="hours_weekday_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.closes != time(0) and self.closes <= self.opens:
            raise ValidationError({"closes": gettext("Closing time must be after opening time (00:00 for midnight).")})


class Holiday(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_date")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


def target_text(amount: int | None, unit: str) -> str:
    """``4 hours``, ``1 business day``: a stored target as people read it."""
    if amount is None:
        return "—"
    label = SlaPolicy.Unit(unit).label if unit in SlaPolicy.Unit.values else unit
    return f"{amount} {label.removesuffix('s') if amount == 1 else label}"


class SlaPolicy(models.Model):
    """One per priority: the targets of the procedures document and the share that must meet them.

    Each target is an amount and its unit. Minutes and hours are clock time on the
    policy's calendar (business hours on a business-hours calendar); business days
    count whole open days, whatever their hours (24 h on a 24x7 calendar). On a
    business-hours calendar a day or more is written in business days: "1 week" is
    5 business days, "24 h" is 1 business day.
    """

    class Unit(models.TextChoices):
        MINUTES = sla.MINUTES, gettext_lazy("minutes")
        HOURS = sla.HOURS, gettext_lazy("hours")
        BUSINESS_DAYS = sla.BUSINESS_DAYS, gettext_lazy("business days")

    priority = models.CharField(max_length=2, choices=Ticket.Priority.choices, unique=True)
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="policies")
    first_response_target = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    first_response_unit = models.CharField(max_length=16, choices=Unit.choices, default=Unit.HOURS)
    resolution_target = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    resolution_unit = models.CharField(max_length=16, choices=Unit.choices, default=Unit.HOURS)
    update_target = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=gettext_lazy("After the first response, a public update is due this often. Empty: no update timer."),
    )
    update_unit = models.CharField(max_length=16, choices=Unit.choices, default=Unit.HOURS)
    response_target_share = models.DecimalField(max_digits=4, decimal_places=3, validators=SHARE)
    resolution_target_share = models.DecimalField(max_digits=4, decimal_places=3, validators=SHARE)

    TARGETS = ("first_response", "resolution", "update")

    class Meta:
        ordering = ["priority"]
        verbose_name = gettext_lazy("SLA policy")
        verbose_name_plural = gettext_lazy("SLA policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(first_response_target__gt=0, resolution_target__gt=0)
                & (Q(update_target__isnull=True) | Q(update_target__gt=0)),
                name="policy_targets_positive",
            ),
            models.CheckConstraint(
                condition=Q(first_response_unit__in=sla.UNITS)
                & Q(resolution_unit__in=sla.UNITS)
                & Q(update_unit__in=sla.UNITS),
                name="policy_target_units_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_priority_display()}: respond {self.first_response_text}, resolve {self.resolution_text}"

    def clean(self) -> None:
        if self.calendar_id is None or self.calendar.always_open:
            return
        errors = {}
        for name in self.TARGETS:
            amount, unit = getattr(self, f"{name}_target"), getattr(self, f"{name}_unit")
            if (
                amount
                and unit in (self.Unit.MINUTES, self.Unit.HOURS)
                and isinstance(span := sla.target(amount, unit), timedelta)
                and span >= sla.DAY
            ):
                errors[f"{name}_unit"] = (
                    "On a business-hours calendar a day or more is counted in business days "
                    "(24 h is 1 business day, 1 week is 5): choose business days."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def first_response(self) -> sla.Span:
        return sla.target(self.first_response_target, self.first_response_unit)

    @property
    def resolution(self) -> sla.Span:
        return sla.target(self.resolution_target, self.resolution_unit)

    @property
    def update(self) -> sla.Span | None:
        return sla.target(self.update_target, self.update_unit) if self.update_target else None

    @property
    def first_response_text(self) -> str:
        return target_text(self.first_response_target, self.first_response_unit)

    @property
    def resolution_text(self) -> str:
        return target_text(self.resolution_target, self.resolution_unit)

    @property
    def update_text(self) -> str:
        return target_text(self.update_target, self.update_unit) if self.update_target else "—"


class TierTarget(models.Model):
    """A tier's response target once a ticket of this priority reaches it."""

    tier = models.PositiveSmallIntegerField(choices=Ticket.Tier.choices)
    priority = models.CharField(max_length=2, choices=Ticket.Priority.choices)
    response_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["tier", "priority"]
        constraints = [models.UniqueConstraint(fields=["tier", "priority"], name="tier_target_unique")]

    def __str__(self) -> str:
        return f"Tier {self.tier} {self.priority}: {self.response_minutes} min"


class EscalationRule(models.Model):
    class Condition(models.TextChoices):
        NOT_RESPONDED = "not_responded", gettext_lazy("Not responded")
        NOT_RESOLVED = "not_resolved", gettext_lazy("Not resolved")

    class Action(models.TextChoices):
        MOVE_TO_TIER = "move_to_tier", gettext_lazy("Move to tier")
        NOTIFY_MANAGEMENT = "notify_management", gettext_lazy("Notify management")

    name = models.CharField(max_length=100, unique=True)
    priority = models.CharField(max_length=2, choices=Ticket.Priority.choices)
    condition = models.CharField(max_length=20, choices=Condition.choices)
    after_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text=gettext_lazy("SLA clock time since the ticket was filed.")
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    to_tier = models.PositiveSmallIntegerField(choices=Ticket.Tier.choices, null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "after_minutes"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(action="move_to_tier") & Q(to_tier__isnull=False))
                | (Q(action="notify_management") & Q(to_tier__isnull=True)),
                name="rule_action_target_consistent",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.action == self.Action.MOVE_TO_TIER and not self.to_tier:
            raise ValidationError({"to_tier": gettext("Say which tier the ticket moves to.")})
        if self.action == self.Action.NOTIFY_MANAGEMENT and self.to_tier:
            raise ValidationError({"to_tier": gettext("Notifying management moves no tier; leave it empty.")})

    @property
    def after(self) -> timedelta:
        return timedelta(minutes=self.after_minutes)


class Escalation(models.Model):
    class Reason(models.TextChoices):
        AUTO = "auto", gettext_lazy("Automatic (rule)")
        CUSTOMER_REQUEST = "customer_request", gettext_lazy("Customer request")
        # A customer's later requests from when one was allowed per tier: kept as history by the
        # migration that made it one per ticket; nothing records new ones.
        CUSTOMER_REQUEST_REPEAT = (
            "customer_request_repeat",
            gettext_lazy("Customer request (repeat, before one per ticket)"),
        )
        TECHNICAL_COMPLEXITY = "technical_complexity", gettext_lazy("Technical complexity")
        RESOURCE_CONSTRAINTS = "resource_constraints", gettext_lazy("Resource constraints")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations")
    at = models.DateTimeField()
    reason = models.CharField(max_length=30, choices=Reason.choices)
    rule = models.ForeignKey(EscalationRule, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    from_tier = models.PositiveSmallIntegerField(choices=Ticket.Tier.choices)
    to_tier = models.PositiveSmallIntegerField(choices=Ticket.Tier.choices)
    to_management = models.BooleanField(default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True, max_length=2000)
    # A customer's request waits for a lead's review (the queue's "Lead review" filter) until one reviews it.
    review_pending = models.BooleanField(default=False)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["ticket", "at"], name="escalation_ticket_idx"),
            models.Index(fields=["ticket"], condition=Q(review_pending=True), name="escalation_review_pending_idx"),
        ]
        constraints = [
            # A rule fires at most once per ticket, whoever sweeps and however often.
            models.UniqueConstraint(
                fields=["ticket", "rule"], condition=Q(rule__isnull=False), name="escalation_once_per_rule"
            ),
            # A customer asks at most once per ticket.
            models.UniqueConstraint(
                fields=["ticket"],
                condition=Q(reason="customer_request"),
                name="escalation_customer_once_per_ticket",
            ),
            models.CheckConstraint(
                condition=Q(reason="auto", rule__isnull=False) | (~Q(reason="auto") & Q(rule__isnull=True)),
                name="escalation_auto_has_rule",
            ),
            # Only a customer's request goes to a lead, and one reviewed waits no more.
            models.CheckConstraint(
                condition=Q(review_pending=False) | Q(reason="customer_request", reviewed_at__isnull=True),
                name="escalation_review_only_pending_requests",
            ),
        ]

    def __str__(self) -> str:
        target = "management" if self.to_management else f"Tier {self.to_tier}"
        return f"{self.ticket_id} → {target} ({self.get_reason_display()})"


class SlaPause(models.Model):
    """A segment when the ticket's SLA clock stood still, kept so any deadline can be explained."""

    class Reason(models.TextChoices):
        PENDING_CUSTOMER = "pending_customer", gettext_lazy("Waiting on the customer")
        RESOLVED = "resolved", gettext_lazy("Resolved")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)

    class Meta:
        verbose_name = gettext_lazy("SLA pause")
        verbose_name_plural = gettext_lazy("SLA pauses")
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket"], condition=Q(ended_at__isnull=True), name="pause_one_open"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="pause_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} from {self.started_at:%Y-%m-%d %H:%M}"


class SlaBreach(models.Model):
    class Kind(models.TextChoices):
        FIRST_RESPONSE = "first_response", gettext_lazy("First response")
        RESOLUTION = "resolution", gettext_lazy("Resolution")
        NEXT_UPDATE = "next_update", gettext_lazy("Next update")
        TIER_RESPONSE = "tier_response", gettext_lazy("Tier response")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_breaches")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_at = models.DateTimeField()
    breached_at = models.DateTimeField()
    tier = models.PositiveSmallIntegerField(choices=Ticket.Tier.choices)
    priority = models.CharField(max_length=2, choices=Ticket.Priority.choices)

    class Meta:
        verbose_name = gettext_lazy("SLA breach")
        verbose_name_plural = gettext_lazy("SLA breaches")
        ordering = ["breached_at", "id"]
        indexes = [models.Index(fields=["breached_at"], name="breach_at_idx")]
        constraints = [models.UniqueConstraint(fields=["ticket", "kind", "due_at"], name="breach_once_per_deadline")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} breached on ticket {self.ticket_id}"


class SweepRun(models.Model):
    """The sweep's heartbeat: one row per named job, updated every run."""

    name = models.CharField(max_length=50, unique=True)
    last_started_at = models.DateTimeField(null=True)
    last_finished_at = models.DateTimeField(null=True)
    examined = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)
    breached = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name
