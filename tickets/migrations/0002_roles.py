"""Create the desk's roles as groups with their permissions.

The permission lists are frozen here on purpose: a later migration that
grants more (SLA settings for managers, say) adds to them.
"""

from django.db import migrations

from accounts.migration_roles import create_app_permissions

AGENT_PERMISSIONS = [
    ("tickets", "view_ticket"),
    ("tickets", "change_ticket"),
    ("tickets", "work_ticket"),
    ("tickets", "view_message"),
    ("tickets", "add_message"),
    ("tickets", "view_attachment"),
    ("tickets", "view_ticketevent"),
]
ROLES = {
    "Customers": [],
    "Agents Tier 1": AGENT_PERMISSIONS,
    "Agents Tier 2": AGENT_PERMISSIONS,
    "Agents Tier 3": AGENT_PERMISSIONS,
    "Managers": [*AGENT_PERMISSIONS, ("auth", "view_user")],
    "Admins": "__all__",
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        create_app_permissions(apps, app_config.label)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        if perms == "__all__":
            group.permissions.set(Permission.objects.all())
            continue
        for app_label, codename in perms:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
