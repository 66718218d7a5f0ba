"""Managers (and the Admins group) manage customers' organisations in the console; agents may read them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

AGENT_PERMISSIONS = ["view_organisation", "view_organisationmember"]
MANAGER_PERMISSIONS = [
    *AGENT_PERMISSIONS,
    "add_organisation",
    "change_organisation",
    "delete_organisation",
    "add_organisationmember",
    "change_organisationmember",
    "delete_organisationmember",
]
ROLES = {
    "Agents Tier 1": AGENT_PERMISSIONS,
    "Agents Tier 2": AGENT_PERMISSIONS,
    "Agents Tier 3": AGENT_PERMISSIONS,
    "Managers": MANAGER_PERMISSIONS,
    "Admins": MANAGER_PERMISSIONS,
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    accounts = Permission.objects.filter(content_type__app_label="accounts")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*accounts.filter(codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    accounts = Permission.objects.filter(content_type__app_label="accounts")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*accounts)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("tickets", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
