"""The moved tables take this app's names (tickets_rating -> surveys_rating, tickets_surveytoken ->
surveys_surveytoken), and their content types (with the permissions hanging off them) its label.

A rename keeps every row, key and index; on PostgreSQL it changes the catalogue only.
"""

from django.db import migrations

MOVED = ("rating", "surveytoken")


def relabel_content_types(apps, schema_editor, *, old: str, new: str) -> None:
    """Move the content types from ``old`` to ``new`` unless ``new`` already has them (post_migrate made them)."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MOVED:
        if not types.filter(app_label=new, model=model).exists():
            types.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    relabel_content_types(apps, schema_editor, old="tickets", new="surveys")


def backwards(apps, schema_editor):
    relabel_content_types(apps, schema_editor, old="surveys", new="tickets")


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0001_initial"),
        ("tickets", "0007_satisfaction_moved_to_surveys"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="rating", table=None),
        migrations.AlterModelTable(name="surveytoken", table=None),
        migrations.RunPython(forwards, backwards),
    ]
