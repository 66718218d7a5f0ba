"""Knowledge's subscriptions to tickets' signals (tickets never imports knowledge)."""

from __future__ import annotations

from django.dispatch import receiver

from tickets.models import Ticket, TicketEvent
from tickets.signals import ticket_changed


@receiver(ticket_changed, sender=Ticket, dispatch_uid="knowledge.suggestions_ticket_filed")
def _ticket_filed(sender, *, ticket: Ticket, event: TicketEvent, now, **_: object) -> None:
    """A ticket filed by a visitor who opened suggestions ends those opens' chance to deflect."""
    if event.kind != TicketEvent.Kind.CREATED:
        return
    from . import services

    services.suggestion_ticket_filed(ticket=ticket, now=now)
