"""The SLA engine listens to every ticket change (inside the change's transaction)."""

from __future__ import annotations

from django.dispatch import receiver

from tickets.models import Ticket, TicketEvent
from tickets.signals import ticket_changed

from . import notifications, services

Kind = TicketEvent.Kind
RECOMPUTE = {
    Kind.CREATED,
    Kind.REPLIED,
    Kind.STATUS_CHANGED,
    Kind.REOPENED,
    Kind.PRIORITY_CHANGED,
    Kind.TIER_CHANGED,
}


@receiver(ticket_changed, sender=Ticket, dispatch_uid="escalation.on_ticket_changed")
def on_ticket_changed(*, ticket: Ticket, event: TicketEvent, now, **_: object) -> None:
    if event.kind in (Kind.STATUS_CHANGED, Kind.REOPENED):
        services.sla_pause_follow_status(ticket=ticket, old=event.old_value, new=event.new_value, now=now)
    if event.kind in RECOMPUTE and not services.is_sweeping():
        services.sla_refresh(ticket=ticket, now=now)
    if event.kind == Kind.CREATED:
        notifications.on_ticket_created(ticket=ticket, now=now)
    elif event.kind == Kind.STATUS_CHANGED and event.new_value == Ticket.Status.RESOLVED:
        notifications.on_resolved(ticket=ticket, now=now)
