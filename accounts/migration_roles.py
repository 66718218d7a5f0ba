"""What the apps' role migrations share: granting an app's permissions to the desk's role groups, and
taking them back.

Called from data migrations with the historical ``apps`` they are given, so this module imports no
model (nor anything that does) and must keep working for migrations already written: change what it
does and every database migrated from empty changes with it.

A role migration names its roles as ``{group name: [codename, ...] or "__all__"}``:

    def grant(apps, schema_editor):
        grant_roles(apps, "monitors", ROLES)

    def revoke(apps, schema_editor):
        revoke_roles(apps, "monitors", ROLES)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.management import create_permissions

ALL = "__all__"


def create_app_permissions(apps: Any, app_label: str) -> None:
    """Create an app's permissions now: Django creates them after ``migrate``, too late to grant them in it."""
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None


def grant_roles(apps: Any, app_label: str, roles: Mapping[str, Iterable[str] | str]) -> None:
    """Give each group (created if missing) the app's permissions it names, or every one with ``"__all__"``."""
    create_app_permissions(apps, app_label)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label=app_label)
    for name, codenames in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*(ours if codenames == ALL else ours.filter(codename__in=codenames)))


def revoke_roles(apps: Any, app_label: str, roles: Mapping[str, Iterable[str] | str]) -> None:
    """Take every permission of the app from the groups named (the groups stay)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label=app_label)
    for group in Group.objects.filter(name__in=list(roles)):
        group.permissions.remove(*ours)
