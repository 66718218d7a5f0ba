"""Managers and Admins may read the reports: grant reports.view_reports to their groups."""

from django.db import migrations

GROUPS = ("Managers", "Admins")


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are normally created after migrate; create this one now so it can be granted.
    content_type, _ = ContentType.objects.get_or_create(app_label="reports", model="report")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename="view_reports",
        defaults={"name": "Can view the management reports, their CSV exports and the reports API"},
    )
    for name in GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="reports", codename="view_reports").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_report_permission"),
        ("tickets", "0002_roles"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
