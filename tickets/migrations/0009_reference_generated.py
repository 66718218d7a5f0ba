"""The reference becomes a column the database derives from the primary key as the row is
inserted, instead of a second UPDATE after each INSERT. Existing rows get the same values
(reference_for): SCP- and the id padded to six digits, longer ids uncut."""

import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0008_resolution_note_and_ccs"),
    ]

    operations = [
        migrations.RemoveField(model_name="ticket", name="reference"),
        migrations.AddField(
            model_name="ticket",
            name="reference",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Case(
                    models.When(
                        id__lt=1000000,
                        then=django.db.models.functions.text.Concat(
                            models.Value("SCP-"),
                            django.db.models.functions.text.Right(
                                django.db.models.functions.text.Concat(
                                    models.Value("00000"),
                                    django.db.models.functions.comparison.Cast("id", models.CharField()),
                                ),
                                6,
                            ),
                        ),
                    ),
                    default=django.db.models.functions.text.Concat(
                        models.Value("SCP-"), django.db.models.functions.comparison.Cast("id", models.CharField())
                    ),
                ),
                output_field=models.CharField(max_length=20),
                unique=True,
            ),
        ),
    ]
