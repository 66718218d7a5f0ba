"""Reads of incidents: open ones, what a ticket may be linked to, the update cadence."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, Q, QuerySet

from tickets.models import Ticket

from .models import SEVERITIES, Component, Incident, IncidentTicket

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


def updates_coming_due(*, lead_until: datetime) -> QuerySet[Incident]:
    """Open incidents whose next update falls due before ``lead_until`` and whose commander was
    not yet warned about that due time."""
    return (
        Incident.objects.filter(status__in=OPEN, next_update_due_at__lte=lead_until)
        .filter(Q(update_warned_for__isnull=True) | ~Q(update_warned_for=F("next_update_due_at")))
        .select_related("commander")
    )


def open_count_by_severity() -> dict[str, int]:
    """Open incidents per severity, every severity present (zero when none), read through incident_status_idx."""
    counts = dict(
        Incident.objects.filter(status__in=OPEN).values("severity").annotate(n=Count("id")).values_list("severity", "n")
    )
    return {severity: counts.get(severity, 0) for severity in SEVERITIES.values}
