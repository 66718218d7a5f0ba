"""Seed the rules of the support procedures document.

Priorities (first response / resolution, share that must meet each):
P0 15 min / 2 h (100 % / 90 %), P1 1 h / 8 h (95 % / 85 %), P2 4 h / 24 h
(90 % / 80 %), P3 24 h / 1 week (85 % / 75 %). P0/P1 run 24x7; P2/P3 on
business hours, Monday to Friday 09:00–18:00 Europe/London. Updates every
30 min (P0) and 2 h (P1). Tier targets: Tier 1 15 min / 1 h, Tier 2 30 min /
2 h, Tier 3 1 h / 4 h (critical / high). Automatic escalation: P0 to Tier 2
after 30 min, P1 to Tier 2 after 2 h, P0/P1 unresolved after 4 h to management.

Managers (and admins) may edit all of it; agents may only read it.
"""

from datetime import time
from decimal import Decimal

from django.db import migrations

from accounts.migration_roles import create_app_permissions

POLICIES = [
    # priority, calendar, response min, resolution min, update min, response share, resolution share
    ("P0", "24x7", 15, 2 * 60, 30, "1.000", "0.900"),
    ("P1", "24x7", 60, 8 * 60, 2 * 60, "0.950", "0.850"),
    ("P2", "Business hours", 4 * 60, 24 * 60, None, "0.900", "0.800"),
    ("P3", "Business hours", 24 * 60, 7 * 24 * 60, None, "0.850", "0.750"),
]
TIER_TARGETS = [(1, "P0", 15), (1, "P1", 60), (2, "P0", 30), (2, "P1", 120), (3, "P0", 60), (3, "P1", 240)]
RULES = [
    ("P0 to Tier 2 after 30 min", "P0", "not_resolved", 30, "move_to_tier", 2),
    ("P1 to Tier 2 after 2 h", "P1", "not_resolved", 120, "move_to_tier", 2),
    ("P0 unresolved after 4 h to management", "P0", "not_resolved", 240, "notify_management", None),
    ("P1 unresolved after 4 h to management", "P1", "not_resolved", 240, "notify_management", None),
]
SLA_MODELS = ["businesscalendar", "openinghours", "holiday", "slapolicy", "tiertarget", "escalationrule"]


def seed(apps, schema_editor):
    Calendar = apps.get_model("escalation", "BusinessCalendar")
    Hours = apps.get_model("escalation", "OpeningHours")
    Policy = apps.get_model("escalation", "SlaPolicy")
    TierTarget = apps.get_model("escalation", "TierTarget")
    Rule = apps.get_model("escalation", "EscalationRule")
    always, _ = Calendar.objects.get_or_create(
        name="24x7", defaults={"time_zone": "Europe/London", "always_open": True}
    )
    business, created = Calendar.objects.get_or_create(
        name="Business hours", defaults={"time_zone": "Europe/London", "always_open": False}
    )
    if created:
        for weekday in range(5):
            Hours.objects.create(calendar=business, weekday=weekday, opens=time(9), closes=time(18))
    calendars = {"24x7": always, "Business hours": business}
    for priority, calendar, response, resolution, update, r_share, s_share in POLICIES:
        Policy.objects.get_or_create(
            priority=priority,
            defaults={
                "calendar": calendars[calendar],
                "first_response_minutes": response,
                "resolution_minutes": resolution,
                "update_minutes": update,
                "response_target_share": Decimal(r_share),
                "resolution_target_share": Decimal(s_share),
            },
        )
    for tier, priority, minutes in TIER_TARGETS:
        TierTarget.objects.get_or_create(tier=tier, priority=priority, defaults={"response_minutes": minutes})
    for name, priority, condition, after, action, to_tier in RULES:
        Rule.objects.get_or_create(
            name=name,
            defaults={
                "priority": priority,
                "condition": condition,
                "after_minutes": after,
                "action": action,
                "to_tier": to_tier,
            },
        )


def grant(apps, schema_editor):
    create_app_permissions(apps, "escalation")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    sla = Permission.objects.filter(content_type__app_label="escalation")
    managers = Group.objects.filter(name__in=["Managers", "Admins"])
    read_only = sla.filter(codename__startswith="view_")
    for group in managers:
        group.permissions.add(*sla.filter(content_type__model__in=SLA_MODELS))
        group.permissions.add(*read_only)
    for group in Group.objects.filter(name__startswith="Agents Tier"):
        group.permissions.add(*read_only.filter(content_type__model__in=[*SLA_MODELS, "escalation", "slabreach"]))


class Migration(migrations.Migration):
    dependencies = [("escalation", "0001_initial"), ("tickets", "0002_roles")]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
