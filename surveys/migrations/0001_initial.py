"""Ratings and survey links move here from tickets: the models only, their rows stay where they are.

tickets 0006 created the tables; this migration takes the models over in Django's state
(no SQL), still on tickets' tables, and tickets 0007 lets go of them. 0002 then renames
the tables, so a fresh database and one upgraded from before the move end up the same.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tickets", "0006_satisfaction"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SurveyToken",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("nonce", models.CharField(max_length=43, unique=True)),
                        ("created_at", models.DateTimeField()),
                        ("used_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "ticket",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="survey_tokens",
                                to="tickets.ticket",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at", "id"],
                        "db_table": "tickets_surveytoken",
                    },
                ),
                migrations.CreateModel(
                    name="Rating",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("score", models.PositiveSmallIntegerField()),
                        ("comment", models.TextField(blank=True, max_length=2000)),
                        ("created_at", models.DateTimeField()),
                        ("updated_at", models.DateTimeField()),
                        (
                            "ticket",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="rating",
                                to="tickets.ticket",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at", "id"],
                        "db_table": "tickets_rating",
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("score__gte", 1), ("score__lte", 5)), name="rating_score_1_to_5"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
