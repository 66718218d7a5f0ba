"""Reads of incidents: open ones, what a ticket may be linked to, the update cadence."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q, QuerySet

from tickets.models import Ticket

from .models import Component, Incident, IncidentEvent, IncidentTicket, Subscriber

OPEN = Incident.OPEN_STATUSES


def incident_list() -> QuerySet[Incident]:
    return Incident.objects.select_related("commander", "declared_by")


def open_incidents() -> QuerySet[Incident]:
    return incident_list().filter(status__in=OPEN)


def open_public_incidents() -> QuerySet[Incident]:
    """What a customer filing a ticket is shown: open incidents on the status page."""
    return Incident.objects.filter(status__in=OPEN, public=True).prefetch_related("components").order_by("-declared_at")


def components_for_category(category: str) -> list[Component]:
    return [c for c in Component.objects.all() if category in (c.ticket_categories or [])]


def suggested_incidents(ticket: Ticket) -> QuerySet[Incident]:
    """Open incidents affecting the ticket's component (by its category) that it is not linked to yet."""
    return (
        open_incidents()
        .filter(components__in=[c.pk for c in components_for_category(ticket.category)])
        .exclude(links__ticket=ticket)
        .distinct()
    )


def incidents_of_ticket(ticket: Ticket) -> QuerySet[Incident]:
    return Incident.objects.filter(links__ticket=ticket).order_by("-declared_at")


def links_of(incident: Incident) -> QuerySet[IncidentTicket]:
    return incident.links.select_related("ticket", "ticket__requester").order_by("linked_at", "id")


def links_to_tell(incident: Incident) -> QuerySet[IncidentTicket]:
    """The links as a broadcast reads them: the ticket's reference, subject and priority and its
    requester's name and address, nothing more (10,000 of them are read at once)."""
    return links_of(incident).only(
        "id",
        "incident_id",
        "ticket__id",
        "ticket__reference",
        "ticket__subject",
        "ticket__priority",
        "ticket__requester__id",
        "ticket__requester__username",
        "ticket__requester__email",
        "ticket__requester__first_name",
        "ticket__requester__last_name",
    )


def updates_coming_due(*, lead_until: datetime) -> QuerySet[Incident]:
    """Open incidents whose next update falls due before ``lead_until`` and whose commander was
    not yet warned about that due time."""
    return (
        Incident.objects.filter(status__in=OPEN, next_update_due_at__lte=lead_until)
        .filter(Q(update_warned_for__isnull=True) | ~Q(update_warned_for=F("next_update_due_at")))
        .select_related("commander")
    )


def subscribers_active() -> QuerySet[Subscriber]:
    """Who gets the status page's updates by email: confirmed (double opt-in) and not unsubscribed."""
    return Subscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True).order_by("pk")


def latest_public_update(incident: Incident) -> IncidentEvent | None:
    """The last update the status page shows for the incident (None for one that is not public)."""
    return incident.events.filter(public=True).order_by("-at", "-id").first()


def last_event(incident: Incident, *, kind: str) -> IncidentEvent | None:
    """The incident's latest timeline event of ``kind`` (the resolution, say)."""
    return incident.events.filter(kind=kind).order_by("-at", "-id").first()
