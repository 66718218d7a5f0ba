"""Who may rate. Predicates raise nothing and return booleans; views decide 403 or 404."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

from tickets.models import Ticket


def can_rate_ticket(user: User | AnonymousUser, ticket: Ticket) -> bool:
    """Only the customer who filed the ticket rates it (not the desk, even for itself)."""
    return user.is_authenticated and user.is_active and ticket.requester_id == user.pk
