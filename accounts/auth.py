"""Users sign in with their email address, which is also their username.

A signed-in user's groups and permissions are read together, once per request (user_access_load):
the role checks (accounts.permissions) and Django's ``has_perm`` share that one read.
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, Value

from sofacover import ratelimit


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_access_load(user) -> None:
    """The user's group names and permissions (direct and through groups) in one query, kept on ``user``.

    Fills the attributes ModelBackend caches its permission sets in, and the group names
    accounts.permissions reads; a user object lives for one request, so changes apply on the next.
    """
    if hasattr(user, "_desk_group_names"):
        return
    through_groups = (
        Group.objects.filter(user=user)
        .order_by()
        .values_list("name", "permissions__content_type__app_label", "permissions__codename")
    )
    direct = (
        Permission.objects.filter(user=user)
        .order_by()
        .values_list(Value(None, output_field=CharField()), "content_type__app_label", "codename")
    )
    names: set[str] = set()
    group_perms: set[str] = set()
    user_perms: set[str] = set()
    for name, app_label, codename in through_groups.union(direct, all=True):
        if name is not None:
            names.add(name)
        if codename is not None:
            (group_perms if name is not None else user_perms).add(f"{app_label}.{codename}")
    user._desk_group_names = frozenset(names)
    if not user.is_superuser:
        # A superuser's sets are every permission; ModelBackend reads those itself when asked.
        user._user_perm_cache = user_perms
        user._group_perm_cache = group_perms


class EmailBackend(ModelBackend):
    """Every password check of every login door (portal, console, API token) passes here, so
    here the login limits are kept: a wrong password counts one failure per client address and
    per (client address, account); once either is spent no password is checked at all. Doors
    answer 429 before they get here (ratelimit.LOGIN.check); this is the backstop."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get("email")
        if username is None or password is None:
            return None
        account = normalise_email(username)
        if request is not None and ratelimit.LOGIN.refuses(request, account):
            return None
        user = super().authenticate(request, username=account, password=password, **kwargs)
        if user is None and request is not None:
            ratelimit.LOGIN.count(request, account)
        return user

    def get_all_permissions(self, user_obj, obj=None):
        if user_obj.is_active and not user_obj.is_anonymous and obj is None:
            user_access_load(user_obj)
        return super().get_all_permissions(user_obj, obj=obj)
