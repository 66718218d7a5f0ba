"""Seed alert routing and the communication templates of the procedures document.

Routing: P0 phone + SMS + Slack + email; P1 Slack + email; P2 email +
dashboard; P3 dashboard. Slack: #support-critical (P0/P1), #support-general
(P2/P3), #launch-monitoring (system status); webhook URLs start empty
(unconfigured: those alerts are skipped until a manager enters one). P2/P3
alerts to people respect quiet hours (their business calendar).

Templates: customer incident acknowledgment, customer resolution
notification, internal incident declaration, with [Placeholders] turned into
named variables. The declaration's first character is a siren emoji that the
seed file carries mis-encoded ("ðŸš¨", UTF-8 read as Windows-1252); the real
U+1F6A8 is stored.

Managers and admins may add, change and delete the routing configuration and
templates; agents get nothing on them, but may view their own dashboard items.
"""

from django.db import migrations

from accounts.migration_roles import create_app_permissions

SIREN = "\U0001f6a8"
assert "\u00f0\u0178\u0161\u00a8".encode("cp1252").decode("utf-8") == SIREN  # what the seed file meant

CHANNELS = [
    ("#support-critical", "P0/P1 incidents"),
    ("#support-general", "P2/P3 issues"),
    ("#launch-monitoring", "Real-time system status"),
]
ROUTES = [
    # priority, phone, sms, slack, email, dashboard, Slack channel, quiet hours
    ("P0", True, True, True, True, False, "#support-critical", False),
    ("P1", False, False, True, True, False, "#support-critical", False),
    ("P2", False, False, False, True, True, "#support-general", True),
    ("P3", False, False, False, False, True, "#support-general", True),
]
TEMPLATES = {
    "acknowledgment": (
        "We're investigating an issue with {{ service }}",
        "Dear {{ customer_name }},\n\n"
        "We're aware of an issue affecting {{ functionality }} and are actively working to resolve it.\n\n"
        "Current Status: {{ status }}\n"
        "Expected Resolution: {{ expected_resolution }}\n"
        "Updates: We'll provide updates every {{ update_frequency }}\n\n"
        "We apologize for any inconvenience and appreciate your patience.\n\n"
        "Best regards,\n"
        "SofaCover Pro Support Team\n",
    ),
    "resolution": (
        "Issue Resolved - {{ service }} is now working normally",
        "Dear {{ customer_name }},\n\n"
        "The issue affecting {{ functionality }} has been resolved as of {{ resolved_at }}.\n\n"
        "What happened: {{ what_happened }}\n"
        "Resolution: {{ resolution }}\n"
        "Prevention: {{ prevention }}\n\n"
        "If you continue to experience issues, please don't hesitate to contact us.\n\n"
        "Best regards,\n"
        "SofaCover Pro Support Team\n",
    ),
    "incident_declaration": (
        SIREN + " INCIDENT DECLARED - {{ priority }}: {{ title }}",
        SIREN + " INCIDENT DECLARED - {{ priority }}\n\n"
        "Title: {{ title }}\n"
        "Impact: {{ impact }}\n"
        "Started: {{ started_at }}\n"
        "Assigned: {{ assigned }}\n"
        "War Room: {{ war_room }}\n\n"
        "Current Actions:\n"
        "{{ actions }}\n\n"
        "Next Update: {{ next_update }}\n",
    ),
}
CONFIG_MODELS = ["slackchannel", "alertroute", "responder", "webhookendpoint", "communicationtemplate"]


def seed(apps, schema_editor):
    SlackChannel = apps.get_model("escalation", "SlackChannel")
    AlertRoute = apps.get_model("escalation", "AlertRoute")
    Template = apps.get_model("escalation", "CommunicationTemplate")
    channels = {}
    for name, purpose in CHANNELS:
        channels[name], _ = SlackChannel.objects.get_or_create(name=name, defaults={"purpose": purpose})
    for priority, phone, sms, slack, email, dashboard, channel, quiet in ROUTES:
        AlertRoute.objects.get_or_create(
            priority=priority,
            defaults={
                "phone": phone,
                "sms": sms,
                "slack": slack,
                "email": email,
                "dashboard": dashboard,
                "slack_channel": channels[channel],
                "quiet_hours": quiet,
            },
        )
    for key, (subject, body) in TEMPLATES.items():
        Template.objects.get_or_create(key=key, defaults={"subject": subject, "body_text": body})


def grant(apps, schema_editor):
    create_app_permissions(apps, "escalation")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ours = Permission.objects.filter(content_type__app_label="escalation")
    config = ours.filter(content_type__model__in=CONFIG_MODELS)
    outbox = ours.filter(content_type__model="notification", codename__in=["view_notification", "change_notification"])
    # Proxy models get their permissions under their own content type.
    dashboard_type, _ = ContentType.objects.get_or_create(app_label="escalation", model="dashboarditem")
    dashboard = Permission.objects.filter(
        content_type=dashboard_type, codename__in=["view_dashboarditem", "change_dashboarditem"]
    )
    for group in Group.objects.filter(name__in=["Managers", "Admins"]):
        group.permissions.add(*config, *outbox, *dashboard)
    for group in Group.objects.filter(name__startswith="Agents Tier"):
        group.permissions.add(*dashboard)


class Migration(migrations.Migration):
    dependencies = [("escalation", "0003_notification_routing"), ("tickets", "0002_roles")]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
