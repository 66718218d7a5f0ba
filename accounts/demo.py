"""The demo desk's logins, and the customers who own load tickets (tickets.demo has the tickets).

Accounts are created through the services, so roles and groups are exactly what the desk
itself would have made; an address that exists keeps its account and password.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from . import services
from .auth import normalise_email

DEMO_PASSWORD = "demo-password-123"


@dataclass(frozen=True)
class DemoUser:
    email: str
    role: str
    tier: int | None = None
    first_name: str = ""
    last_name: str = ""

    @property
    def role_label(self) -> str:
        return f"agent, tier {self.tier}" if self.role == "agent" else self.role


DEMO_CUSTOMER = "customer@example.com"
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(DEMO_CUSTOMER, "customer", first_name="Casey", last_name="Morgan"),
    DemoUser("tier1@sofacoverpro.com", "agent", 1, "Tina", "Fletcher"),
    DemoUser("tier2@sofacoverpro.com", "agent", 2, "Omar", "Haddad"),
    DemoUser("tier3@sofacoverpro.com", "agent", 3, "Lena", "Kowalski"),
    DemoUser("manager@sofacoverpro.com", "manager", first_name="Maria", last_name="Santos"),
    DemoUser("admin@sofacoverpro.com", "admin", first_name="Alex", last_name="Reid"),
)
# Two more customers so the queue is not one person's.
EXTRA_CUSTOMERS: tuple[DemoUser, ...] = (
    DemoUser("priya.shah@example.com", "customer", first_name="Priya", last_name="Shah"),
    DemoUser("tom.baker@example.net", "customer", first_name="Tom", last_name="Baker"),
)


# --- users --------------------------------------------------------------------


def user_ensure(spec: DemoUser, *, password: str | None) -> tuple[User, bool]:
    """The user for ``spec``, created through the service if the address is new."""
    existing = User.objects.filter(username=normalise_email(spec.email)).first()
    if existing is not None:
        return existing, False
    user = services.user_create(
        email=spec.email,
        password=password,
        role=spec.role,
        tier=spec.tier,
        first_name=spec.first_name,
        last_name=spec.last_name,
    )
    return user, True


def demo_users_ensure() -> list[tuple[DemoUser, User, bool]]:
    """Every demo login and extra customer; existing accounts keep their passwords."""
    return [(spec, *user_ensure(spec, password=DEMO_PASSWORD)) for spec in (*DEMO_USERS, *EXTRA_CUSTOMERS)]


def load_customers_ensure(count: int) -> list[User]:
    """Customers who own load tickets. They cannot log in (unusable passwords, no hashing cost)."""
    wanted = [f"load-customer-{n:04d}@example.com" for n in range(1, count + 1)]
    found = {user.username: user for user in User.objects.filter(username__in=wanted)}
    return [found.get(email) or user_ensure(DemoUser(email, "customer"), password=None)[0] for email in wanted]


def demo_agents() -> list[User]:
    emails = [spec.email for spec in DEMO_USERS if spec.role == "agent"]
    return list(User.objects.filter(username__in=emails).order_by("username"))
