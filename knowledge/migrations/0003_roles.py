"""Knowledge permissions for the desk's roles.

Agents (every tier) write articles, tags and response templates and read
revisions; managers may also delete tags and templates; the Admins group gets
every knowledge permission (admins are superusers as well).
"""

from django.db import migrations

from accounts.migration_roles import grant_roles, revoke_roles

AGENT_PERMISSIONS = [
    "view_article",
    "add_article",
    "change_article",
    "view_articlerevision",
    "view_articlevote",
    "view_tag",
    "add_tag",
    "change_tag",
    "view_responsetemplate",
    "add_responsetemplate",
    "change_responsetemplate",
    "view_ticketrunbook",
    "view_runbooksteptick",
]
MANAGER_PERMISSIONS = [*AGENT_PERMISSIONS, "delete_tag", "delete_responsetemplate", "view_suggestionopen"]
ROLES = {
    "Agents Tier 1": AGENT_PERMISSIONS,
    "Agents Tier 2": AGENT_PERMISSIONS,
    "Agents Tier 3": AGENT_PERMISSIONS,
    "Managers": MANAGER_PERMISSIONS,
    "Admins": "__all__",
}


def grant(apps, schema_editor):
    grant_roles(apps, "knowledge", ROLES)


def revoke(apps, schema_editor):
    revoke_roles(apps, "knowledge", ROLES)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0002_search_indexes"),
        ("tickets", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
