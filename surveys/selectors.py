"""Every read of satisfaction."""

from __future__ import annotations

from tickets.models import Ticket

from .models import Rating


def rating_of(*, ticket: Ticket) -> Rating | None:
    """The ticket's rating, if its requester gave one."""
    return Rating.objects.filter(ticket_id=ticket.pk).first()
