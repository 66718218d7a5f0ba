"""Listeners on tickets' and the SLA engine's changes, inside the change's transaction.

- The survey on resolve.
- The reports' rollup: every ticket change, rating and breach refreshes that
  ticket's fact and moves the daily rows by the difference (reports.rollup).
  Receivers run in app order, so the SLA engine has stored its deadlines first.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from escalation.models import SlaBreach
from tickets.models import Rating, Ticket, TicketEvent
from tickets.signals import ticket_changed, tickets_changed

from . import rollup, services


@receiver(ticket_changed, sender=Ticket, dispatch_uid="reports.survey_on_resolve")
def survey_on_resolve(*, ticket: Ticket, event: TicketEvent, now, **_: object) -> None:
    if event.kind == TicketEvent.Kind.STATUS_CHANGED and event.new_value == Ticket.Status.RESOLVED:
        services.survey_send(ticket=ticket, now=now)


@receiver(ticket_changed, sender=Ticket, dispatch_uid="reports.rollup_on_ticket_changed")
def rollup_on_ticket_changed(*, ticket: Ticket, event: TicketEvent, batched: bool = False, **_: object) -> None:
    if not batched:  # a batch's tickets are refreshed together (rollup_on_tickets_changed)
        rollup.facts_refresh(ticket_ids=[ticket.pk], created=event.kind == TicketEvent.Kind.CREATED)


@receiver(tickets_changed, sender=Ticket, dispatch_uid="reports.rollup_on_tickets_changed")
def rollup_on_tickets_changed(*, ticket_ids: list[int], **_: object) -> None:
    """The SLA sweep's batch: tier moves, deadlines and breaches written in bulk, without model signals."""
    rollup.facts_refresh(ticket_ids=ticket_ids)


def _deleting_tickets(origin: object) -> bool:
    """Part of deleting tickets: the ticket's own pre_delete already took its contribution out."""
    return isinstance(origin, Ticket) or getattr(origin, "model", None) is Ticket


@receiver(post_save, sender=Rating, dispatch_uid="reports.rollup_on_rating_saved")
@receiver(post_save, sender=SlaBreach, dispatch_uid="reports.rollup_on_breach_saved")
def rollup_on_record_saved(*, instance: Rating | SlaBreach, raw: bool = False, **_: object) -> None:
    if not raw:
        rollup.facts_refresh(ticket_ids=[instance.ticket_id])


@receiver(post_delete, sender=Rating, dispatch_uid="reports.rollup_on_rating_deleted")
@receiver(post_delete, sender=SlaBreach, dispatch_uid="reports.rollup_on_breach_deleted")
def rollup_on_record_deleted(*, instance: Rating | SlaBreach, origin: object = None, **_: object) -> None:
    if not _deleting_tickets(origin):
        rollup.facts_refresh(ticket_ids=[instance.ticket_id])


@receiver(pre_delete, sender=Ticket, dispatch_uid="reports.rollup_on_ticket_deleted")
def rollup_on_ticket_deleted(*, instance: Ticket, **_: object) -> None:
    rollup.facts_forget(ticket_ids=[instance.pk])
