"""The SLA engine listens to every ticket change (inside the change's transaction)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tickets.models import Ticket, TicketEvent
from tickets.signals import ticket_changed, ticket_opening

from . import messages, notifications, services
from .outbox_models import CommunicationTemplate

Kind = TicketEvent.Kind
# A new ticket is planned before its row is written (on_ticket_opening), not after.
RECOMPUTE = {
    Kind.REPLIED,
    Kind.STATUS_CHANGED,
    Kind.REOPENED,
    Kind.PRIORITY_CHANGED,
    Kind.TIER_CHANGED,
}


@receiver(ticket_opening, sender=Ticket, dispatch_uid="escalation.on_ticket_opening")
def on_ticket_opening(*, ticket: Ticket, now, **_: object) -> None:
    services.sla_plan_new(ticket=ticket)


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


@receiver((post_save, post_delete), sender=CommunicationTemplate, dispatch_uid="escalation.templates_forget")
def on_template_saved(**_: object) -> None:
    """Forget the cached templates now (this transaction sees the edit) and again after commit.

    A render between the save and a rollback caches the edit for up to the cache's TTL (30 s).
    """
    messages.templates_forget()
    transaction.on_commit(messages.templates_forget)
