"""The survey on resolve: listens to tickets' ticket_changed, inside the change's transaction."""

from __future__ import annotations

from django.dispatch import receiver

from tickets.models import Ticket, TicketEvent
from tickets.signals import ticket_changed

from . import services


@receiver(ticket_changed, sender=Ticket, dispatch_uid="reports.survey_on_resolve")
def survey_on_resolve(*, ticket: Ticket, event: TicketEvent, now, **_: object) -> None:
    if event.kind == TicketEvent.Kind.STATUS_CHANGED and event.new_value == Ticket.Status.RESOLVED:
        services.survey_send(ticket=ticket, now=now)
