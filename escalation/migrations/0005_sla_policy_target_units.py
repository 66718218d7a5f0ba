"""SLA policy targets name their unit; open tickets' deadlines follow the corrected rule.

The targets were minutes, so P3's "1 week" (10,080 minutes) ran as 168 business
hours on the business-hours calendar, about 19 working days. Each target is now
an amount and a unit (minutes, hours, business days). On a business-hours
calendar a whole number of weeks or days becomes business days (1 week = 5
business days, 24 h = 1 business day); under a day stays clock time. On a 24x7
calendar nothing changes meaning.

Then the stored deadlines of open tickets are recomputed and the sweep is asked
to look at each ticket whose deadlines moved: at its next run it re-plans the
ticket (warnings, breaches, rules) and the reports' facts follow from its
batch. The migration reads everything through the historical models; the only
code it calls is the pure arithmetic of escalation.sla (no models, no settings).
"""

from datetime import timedelta

import django.core.validators
from django.db import migrations, models
from django.utils import timezone

from escalation import sla

TARGETS = ("first_response", "resolution", "update")
DAY, WEEK = 24 * 60, 7 * 24 * 60
ACTIVE = ("new", "open", "pending_customer")
BATCH = 500
DEADLINE_FIELDS = (
    "first_response_due_at",
    "resolution_due_at",
    "next_update_due_at",
    "tier_response_due_at",
    "first_response_warn_at",
    "resolution_warn_at",
)


def _with_unit(minutes, *, business_hours):
    if minutes is None:
        return None, "hours"
    if business_hours and minutes % WEEK == 0:
        return minutes // WEEK * 5, "business_days"
    if business_hours and minutes % DAY == 0:
        return minutes // DAY, "business_days"
    if minutes % 60 == 0:
        return minutes // 60, "hours"
    return minutes, "minutes"


def _as_minutes(amount, unit, *, business_hours):
    if amount is None:
        return None
    if unit == "business_days":
        return amount // 5 * WEEK if business_hours and amount % 5 == 0 else amount * DAY
    return amount * 60 if unit == "hours" else amount


def targets_with_units(apps, schema_editor):
    Policy = apps.get_model("escalation", "SlaPolicy")
    for policy in Policy.objects.select_related("calendar"):
        business_hours = not policy.calendar.always_open
        for name in TARGETS:
            amount, unit = _with_unit(getattr(policy, f"{name}_minutes"), business_hours=business_hours)
            setattr(policy, f"{name}_target", amount)
            setattr(policy, f"{name}_unit", unit)
        policy.save(update_fields=[f"{name}_{part}" for name in TARGETS for part in ("target", "unit")])


def targets_in_minutes(apps, schema_editor):
    Policy = apps.get_model("escalation", "SlaPolicy")
    for policy in Policy.objects.select_related("calendar"):
        business_hours = not policy.calendar.always_open
        for name in TARGETS:
            amount, unit = getattr(policy, f"{name}_target"), getattr(policy, f"{name}_unit")
            setattr(policy, f"{name}_minutes", _as_minutes(amount, unit, business_hours=business_hours))
        policy.save(update_fields=[f"{name}_minutes" for name in TARGETS])


def _calendar(calendar):
    if calendar.always_open:
        return sla.Calendar(time_zone=calendar.time_zone, always_open=True)
    hours = {}
    for row in calendar.hours.all():
        hours.setdefault(row.weekday, []).append((row.opens, row.closes))
    return sla.Calendar(
        time_zone=calendar.time_zone,
        always_open=False,
        hours={day: tuple(sorted(spans)) for day, spans in hours.items()},
        holidays=frozenset(holiday.date for holiday in calendar.holidays.all()),
    )


def recompute_open_deadlines(apps, schema_editor):
    """The six deadline columns of every open ticket, as escalation.services.plan_for computes them."""
    Policy = apps.get_model("escalation", "SlaPolicy")
    TierTarget = apps.get_model("escalation", "TierTarget")
    SlaPause = apps.get_model("escalation", "SlaPause")
    Ticket = apps.get_model("tickets", "Ticket")
    book = {}
    for policy in Policy.objects.select_related("calendar").prefetch_related("calendar__hours", "calendar__holidays"):
        spans = [
            sla.target(getattr(policy, f"{name}_target"), getattr(policy, f"{name}_unit"))
            if getattr(policy, f"{name}_target")
            else None
            for name in TARGETS
        ]
        book[policy.priority] = (sla.Targets(*spans), _calendar(policy.calendar))
    tier_targets = {(t.tier, t.priority): timedelta(minutes=t.response_minutes) for t in TierTarget.objects.all()}
    now = timezone.now()  # the sweep's next look for the tickets that moved
    ids = list(
        Ticket.objects.filter(status__in=ACTIVE, priority__in=list(book)).order_by("pk").values_list("pk", flat=True)
    )
    for offset in range(0, len(ids), BATCH):
        chunk = ids[offset : offset + BATCH]
        pauses = {}
        for ticket_id, start, end in (
            SlaPause.objects.filter(ticket_id__in=chunk)
            .order_by("ticket_id", "started_at")
            .values_list("ticket_id", "started_at", "ended_at")
        ):
            pauses.setdefault(ticket_id, []).append(sla.Pause(start, end))
        moved = []
        for ticket in Ticket.objects.filter(pk__in=chunk).only(
            "priority", "tier", "created_at", "first_responded_at", "resolved_at", "last_agent_reply_at",
            "tier_entered_at", "sla_next_check_at", *DEADLINE_FIELDS,
        ):  # fmt: skip
            targets, calendar = book[ticket.priority]
            moved_in_tier = ticket.tier_entered_at and ticket.tier_entered_at > ticket.created_at
            history = sla.History(
                created_at=ticket.created_at,
                first_responded_at=ticket.first_responded_at,
                resolved_at=ticket.resolved_at,
                last_agent_reply_at=ticket.last_agent_reply_at,
                tier_entered_at=ticket.tier_entered_at or ticket.created_at,
                tier_target=tier_targets.get((ticket.tier, ticket.priority)) if moved_in_tier else None,
                pauses=tuple(pauses.get(ticket.pk, ())),
            )
            due, response_warn, resolution_warn = sla.deadlines_and_warnings(targets, calendar, history)
            new = {
                "first_response_due_at": due.first_response_due_at,
                "resolution_due_at": due.resolution_due_at,
                "next_update_due_at": due.next_update_due_at,
                "tier_response_due_at": due.tier_response_due_at,
                "first_response_warn_at": response_warn,
                "resolution_warn_at": resolution_warn,
            }
            if all(getattr(ticket, name) == value for name, value in new.items()):
                continue
            for name, value in new.items():
                setattr(ticket, name, value)
            ticket.sla_next_check_at = min(ticket.sla_next_check_at or now, now)
            moved.append(ticket)
        Ticket.objects.bulk_update(moved, [*DEADLINE_FIELDS, "sla_next_check_at"])


class Migration(migrations.Migration):
    dependencies = [("escalation", "0004_seed_notifications"), ("tickets", "0004_sla_columns")]

    operations = [
        migrations.RemoveConstraint(model_name="slapolicy", name="policy_targets_positive"),
        *(
            operation
            for name in TARGETS
            for operation in (
                migrations.AddField(
                    model_name="slapolicy",
                    name=f"{name}_target",
                    field=models.PositiveIntegerField(
                        null=True, validators=[django.core.validators.MinValueValidator(1)]
                    ),
                ),
                migrations.AddField(
                    model_name="slapolicy",
                    name=f"{name}_unit",
                    field=models.CharField(
                        choices=[("minutes", "minutes"), ("hours", "hours"), ("business_days", "business days")],
                        default="hours",
                        max_length=16,
                    ),
                ),
            )
        ),
        # Nullable while both exist, so that going back can add them empty before filling them.
        *(
            migrations.AlterField(
                model_name="slapolicy",
                name=f"{name}_minutes",
                field=models.PositiveIntegerField(null=True, validators=[django.core.validators.MinValueValidator(1)]),
            )
            for name in ("first_response", "resolution")
        ),
        migrations.RunPython(targets_with_units, targets_in_minutes),
        migrations.RemoveField(model_name="slapolicy", name="first_response_minutes"),
        migrations.RemoveField(model_name="slapolicy", name="resolution_minutes"),
        migrations.RemoveField(model_name="slapolicy", name="update_minutes"),
        migrations.AlterField(
            model_name="slapolicy",
            name="first_response_target",
            field=models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1)]),
        ),
        migrations.AlterField(
            model_name="slapolicy",
            name="resolution_target",
            field=models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1)]),
        ),
        migrations.AlterField(
            model_name="slapolicy",
            name="update_target",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="After the first response, a public update is due this often. Empty: no update timer.",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
            ),
        ),
        migrations.AddConstraint(
            model_name="slapolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(first_response_target__gt=0, resolution_target__gt=0)
                & (models.Q(update_target__isnull=True) | models.Q(update_target__gt=0)),
                name="policy_targets_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="slapolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(first_response_unit__in=("minutes", "hours", "business_days"))
                & models.Q(resolution_unit__in=("minutes", "hours", "business_days"))
                & models.Q(update_unit__in=("minutes", "hours", "business_days")),
                name="policy_target_units_known",
            ),
        ),
        migrations.RunPython(recompute_open_deadlines, migrations.RunPython.noop),
    ]
