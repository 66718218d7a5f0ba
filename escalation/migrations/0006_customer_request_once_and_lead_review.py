"""A customer asks for escalation once per ticket, and a lead reviews what they asked.

Until now a customer could ask once per tier (and so walk a ticket to
management). Before the new once-per-ticket constraint, a ticket's later
customer requests are kept as history under ``customer_request_repeat``; the
first request of each still active ticket waits for a lead's review.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ACTIVE = ("new", "open", "pending_customer")


def keep_first_request_per_ticket(apps, schema_editor):
    Escalation = apps.get_model("escalation", "Escalation")
    seen: set[int] = set()
    repeats: list[int] = []
    first_of_active: list[int] = []
    requests = Escalation.objects.filter(reason="customer_request").order_by("ticket_id", "at", "id")
    for pk, ticket_id, status in requests.values_list("pk", "ticket_id", "ticket__status").iterator():
        if ticket_id in seen:
            repeats.append(pk)
            continue
        seen.add(ticket_id)
        if status in ACTIVE:
            first_of_active.append(pk)
    for start in range(0, len(repeats), 500):
        Escalation.objects.filter(pk__in=repeats[start : start + 500]).update(reason="customer_request_repeat")
    for start in range(0, len(first_of_active), 500):
        Escalation.objects.filter(pk__in=first_of_active[start : start + 500]).update(review_pending=True)


def restore_repeats(apps, schema_editor):
    Escalation = apps.get_model("escalation", "Escalation")
    Escalation.objects.filter(reason="customer_request_repeat").update(reason="customer_request")


class Migration(migrations.Migration):

    dependencies = [
        ('escalation', '0005_sla_policy_target_units'),
        ('tickets', '0006_satisfaction'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='escalation',
            name='escalation_customer_once_per_tier',
        ),
        migrations.AddField(
            model_name='escalation',
            name='review_pending',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='escalation',
            name='reviewed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='escalation',
            name='reviewed_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='escalation',
            name='reason',
            field=models.CharField(choices=[('auto', 'Automatic (rule)'), ('customer_request', 'Customer request'), ('customer_request_repeat', 'Customer request (repeat, before one per ticket)'), ('technical_complexity', 'Technical complexity'), ('resource_constraints', 'Resource constraints')], max_length=30),
        ),
        migrations.RunPython(keep_first_request_per_ticket, restore_repeats),
        migrations.AddIndex(
            model_name='escalation',
            index=models.Index(condition=models.Q(('review_pending', True)), fields=['ticket'], name='escalation_review_pending_idx'),
        ),
        migrations.AddConstraint(
            model_name='escalation',
            constraint=models.UniqueConstraint(condition=models.Q(('reason', 'customer_request')), fields=('ticket',), name='escalation_customer_once_per_ticket'),
        ),
        migrations.AddConstraint(
            model_name='escalation',
            constraint=models.CheckConstraint(condition=models.Q(('review_pending', False), models.Q(('reason', 'customer_request'), ('reviewed_at__isnull', True)), _connector='OR'), name='escalation_review_only_pending_requests'),
        ),
    ]
