"""The outbox and alert configuration move to the notifications app (issue 11).

State only: escalation forgets the eight models; their tables and rows stay where
they are until notifications/migrations/0001_initial.py adopts them (and renames
the tables to notifications_*). Models that others reference go last.
"""

from django.db import migrations

MOVED = [
    "DashboardItem",  # a proxy of Notification
    "Notification",  # references WebhookEndpoint
    "AlertRoute",  # references SlackChannel
    "WebhookEndpoint",
    "SlackChannel",
    "Responder",
    "CommunicationTemplate",
    "SendSlot",
]


class Migration(migrations.Migration):
    dependencies = [("escalation", "0006_customer_request_once_and_lead_review")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name=name) for name in MOVED],
            database_operations=[],
        )
    ]
