"""Create a desk user from the command line: a customer, an agent of a tier, a manager or an admin."""

from __future__ import annotations

import secrets
import string

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from accounts import permissions, services
from sofacover.errors import DomainError

PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.!@#%+="
PASSWORD_LENGTH = 20


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """A random password with at least one lower-case letter, upper-case letter and digit."""
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


class Command(BaseCommand):
    help = "Create a user: add_user EMAIL --role customer|agent|manager|admin [--tier 1|2|3] [--password P]"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=permissions.ROLE_CHOICES)
        parser.add_argument("--tier", type=int, choices=sorted(permissions.AGENT_GROUPS), help="agents only")
        parser.add_argument("--password", help="without it a strong password is generated and printed once")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")

    def handle(self, *args, **options) -> None:
        email = options["email"].strip()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"{email!r} is not a valid email address.") from exc
        role, tier = options["role"], options["tier"]
        if role == "agent" and tier is None:
            raise CommandError("Agents need a tier: add --tier 1, 2 or 3.")
        if role != "agent" and tier is not None:
            raise CommandError(f"Only agents have a tier; leave out --tier for a {role}.")
        password = options["password"]
        if password is not None and not password.strip():
            raise CommandError("The password must not be empty; leave out --password to generate one.")
        generated = password is None
        if generated:
            password = generate_password()
        try:
            user = services.user_create(
                email=email,
                password=password,
                role=role,
                tier=tier,
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        label = f"agent (tier {tier})" if role == "agent" else role
        self.stdout.write(self.style.SUCCESS(f"Created {label} {user.email}."))
        if generated:
            self.stdout.write(f"Password (shown only this once): {password}")
