"""Monitor permissions for the desk's roles: agents (every tier) read monitors in the console, managers
add, change and delete them; the Admins group gets every monitors permission (admins are superusers too)."""

from django.db import migrations

from accounts.migration_roles import grant_roles, revoke_roles

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
    grant_roles(apps, "monitors", ROLES)


def revoke(apps, schema_editor):
    revoke_roles(apps, "monitors", ROLES)


class Migration(migrations.Migration):
    dependencies = [
        ("monitors", "0001_initial"),
        ("tickets", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
