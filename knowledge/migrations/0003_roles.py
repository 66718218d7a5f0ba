"""Knowledge permissions for the desk's roles.

Agents (every tier) write articles, tags and response templates and read
revisions; managers may also delete tags and templates; the Admins group gets
every knowledge permission (admins are superusers as well).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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
    app_config = apps.get_app_config("knowledge")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    knowledge = Permission.objects.filter(content_type__app_label="knowledge")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = knowledge if codenames == "__all__" else knowledge.filter(codename__in=codenames)
        group.permissions.add(*perms)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    knowledge = Permission.objects.filter(content_type__app_label="knowledge")
    for group in Group.objects.filter(name__in=list(ROLES)):
        group.permissions.remove(*knowledge)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0002_search_indexes"),
        ("tickets", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
