"""Every change of an account: creating desk users in their role, customers signing up and activating.

A user's username is their normalised email address; the role is a group (accounts.permissions).
"""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from sofacover.errors import Conflict, DomainError

from . import permissions, selectors
from .auth import normalise_email
from .models import Preference


class UserExists(Conflict):
    code = "user_exists"


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    role: str,
    tier: int | None = None,
    first_name: str = "",
    last_name: str = "",
    is_active: bool = True,
) -> User:
    """Create a desk user whose username is the normalised email; agents and managers are staff.

    :raises UserExists: if the address is taken
    :raises DomainError: for an unknown role or a missing/invalid tier
    """
    if role not in permissions.ROLE_CHOICES:
        raise DomainError(
            gettext("Unknown role “%(role)s”; choose one of %(names)s.")
            % {"role": role, "names": ", ".join(permissions.ROLE_CHOICES)}
        )
    if role == "agent" and tier not in permissions.AGENT_GROUPS:
        raise DomainError(gettext("Agents need a tier: 1, 2 or 3."), field="tier")
    if role != "agent" and tier is not None:
        raise DomainError(gettext("Only agents have a tier."), field="tier")
    email = normalise_email(email)
    if User.objects.filter(username=email).exists():
        raise UserExists(gettext("A user with the address %(email)s already exists.") % {"email": email}, field="email")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=email,
                email=email,
                password=password,
                first_name=first_name,
                last_name=last_name,
                is_staff=role != "customer",
                is_superuser=role == "admin",
                is_active=is_active,
            )
    except IntegrityError as exc:  # lost a race with the same address
        raise UserExists(
            gettext("A user with the address %(email)s already exists.") % {"email": email}, field="email"
        ) from exc
    group_name = {
        "customer": permissions.CUSTOMERS,
        "manager": permissions.MANAGERS,
        "admin": permissions.ADMINS,
    }.get(role) or permissions.AGENT_GROUPS[tier or 1]
    user.groups.add(Group.objects.get(name=group_name))
    if role != "customer":
        # A new agent is a choice in the queue's filter and the assignee select at once, not within the minute.
        transaction.on_commit(selectors.agent_choices_forget)
    return user


# --- portal accounts ---


@transaction.atomic
def customer_sign_up(*, email: str, password: str, name: str) -> tuple[User, bool]:
    """Create an inactive customer for a new address; return the existing user for a known one.

    An account the desk created for an email sender or a phone caller (inactive, no password) counts
    as new: it gets the password, and the activation mail, and the customer sees their tickets.

    The caller tells the two apart only to choose which email to send, never in
    what it shows, so sign-up does not reveal which addresses have accounts. Nor
    does its timing: the password is hashed on both paths (the hashing is almost
    all of the work), and stored only for a new account.
    """
    try:
        with transaction.atomic():
            user = user_create(
                email=email,
                password=password,
                role="customer",
                first_name=name.strip()[:150],
                is_active=False,
            )
    except UserExists:
        hashed = make_password(password)  # the hashing user_create did not do
        user = User.objects.get(username=normalise_email(email))
        if user.is_active or user.has_usable_password() or user.is_staff:
            return user, False
        # An account the desk made for a sender or a caller, never claimed: the address's owner
        # claims it like a new one, by the activation link mailed to it.
        user.password = hashed
        user.first_name = user.first_name or name.strip()[:150]
        user.save(update_fields=["password", "first_name"])
    return user, True


@transaction.atomic
def user_activate(*, user: User) -> User:
    """Activate a customer who followed the link in their sign-up email."""
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def preference_set_time_zone(*, user: User, time_zone: str) -> Preference:
    """Save the zone ``user`` reads times in (an IANA name, or "" for their browser's). Unknown names: 400."""
    from sofacover.localtime import zone_named

    time_zone = time_zone.strip()
    if time_zone and zone_named(time_zone) is None:
        raise DomainError(gettext("Choose a time zone from the list."), field="time_zone")
    preference, _created = Preference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return preference
