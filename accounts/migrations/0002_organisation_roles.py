"""Managers (and the Admins group) manage customers' organisations in the console; agents may read them."""

from django.db import migrations

from accounts.migration_roles import grant_roles, revoke_roles

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
    grant_roles(apps, "accounts", ROLES)


def revoke(apps, schema_editor):
    revoke_roles(apps, "accounts", ROLES)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("tickets", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
