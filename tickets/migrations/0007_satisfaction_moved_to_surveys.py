"""Ratings and survey links belong to the surveys app now (surveys 0001 took the models over).

Only Django's state changes here: the tables and their rows are kept, and renamed by surveys 0002.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0006_satisfaction"),
        ("surveys", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Rating"),
                migrations.DeleteModel(name="SurveyToken"),
            ],
            database_operations=[],
        ),
    ]
