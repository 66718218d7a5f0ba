"""Monitor permissions for the desk's roles: agents (every tier) read monitors in the console, managers
add, change and delete them; the Admins group gets every monitors permission (admins are superusers too)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

AGENT_PERMISSIONS = ["view_monitor"]
MANAGER_PERMISSIONS = [*AGENT_PERMISSIONS, "add_monitor", "change_monitor", "delete_monitor"]
ROLES = {
    "Agents Tier 1": AGENT_PERMISSIONS,
    "Agents Tier 2": AGENT_PERMISSIONS,
    "Agents Tier 3": AGENT_PERMISSIONS,
    "Managers": MANAGER_PERMISSIONS,
    "Admins": "__all__",
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("monitors")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    monitors = Permission.objects.filter(content_type__app_label="monitors")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = monitors if codenames == "__all__" else monitors.filter(codename__in=codenames)
        group.permissions.add(*perms)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    monitors = Permission.objects.filter(content_type__app_label="monitors")
    for group in Group.objects.filter(name__in=list(ROLES)):
        group.permissions.remove(*monitors)


class Migration(migrations.Migration):
    dependencies = [
        ("monitors", "0001_initial"),
        ("tickets", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
