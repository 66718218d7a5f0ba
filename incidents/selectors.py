"""Reads of incidents: open ones, what a ticket may be linked to, the update cadence."""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from tickets.models import Ticket

from .models import SEVERITIES, Component, Incident, IncidentAction, IncidentEvent, IncidentTicket, Subscriber

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


def _component_has_category(category: str) -> Q:
    """Components whose ticket categories include ``category``, as a condition in the database.

    PostgreSQL tests JSON containment; SQLite has no such operator, so the stored JSON text is
    searched for the quoted value (categories are Ticket.Category slugs: nothing in them needs escaping).
    """
    if connection.features.supports_json_field_contains:
        return Q(ticket_categories__contains=[category])
    return Q(ticket_categories__icontains=json.dumps(category))


def ticket_incident_panel(ticket: Ticket) -> list[Incident]:
    """The console ticket page's incidents, in one read, newest first: those the ticket is linked to
    (``linked`` True) and, while the ticket is active, the open ones affecting its component that it
    is not linked to (``linked`` False): what ``suggested_incidents`` suggests."""
    linked_ids = IncidentTicket.objects.filter(ticket=ticket).values("incident_id")
    wanted = Q(pk__in=linked_ids)
    if ticket.is_active:
        affecting_ids = Incident.components.through.objects.filter(
            component__in=Component.objects.filter(_component_has_category(ticket.category))
        ).values("incident_id")
        wanted |= Q(status__in=OPEN, pk__in=affecting_ids)
    return list(
        Incident.objects.filter(wanted)
        .annotate(linked=Exists(IncidentTicket.objects.filter(incident=OuterRef("pk"), ticket=ticket)))
        .only("pk", "severity", "title", "status", "declared_at", "public")
        .order_by("-declared_at", "-pk")
    )


def incident_console_list() -> QuerySet[Incident]:
    """The console's incident list: open ones first, then newest first, with each one's count of
    linked tickets read in the same query (``linked_count``)."""
    linked_count = (
        IncidentTicket.objects.filter(incident=OuterRef("pk"))
        .order_by()
        .values("incident")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        incident_list()
        .annotate(
            linked_count=Coalesce(Subquery(linked_count, output_field=IntegerField()), 0),
            resolved_last=Case(When(status=Incident.Status.RESOLVED, then=1), default=0, output_field=IntegerField()),
        )
        .order_by("resolved_last", "-declared_at", "-pk")
    )


def components_marked(incident: Incident | None) -> list[Component]:
    """Every component, each with ``affected``: whether ``incident`` names it (one read, for its edit form)."""
    components = Component.objects.all()
    if incident is None:
        return [*components.annotate(affected=Value(False))]
    through = Incident.components.through.objects.filter(incident_id=incident.pk, component_id=OuterRef("pk"))
    return list(components.annotate(affected=Exists(through)))


def incident_page(incident: Incident) -> tuple[list[IncidentAction], list[IncidentEvent], list[IncidentTicket]]:
    """What the console's incident page lists: the actions, the timeline (authors read with it, oldest
    first) and the linked tickets (with their requesters): three reads whatever their lengths."""
    actions = list(incident.actions.all())
    events = list(incident.events.select_related("author").order_by("at", "id"))
    return actions, events, list(links_of(incident))


def open_count_by_severity() -> dict[str, int]:
    """Open incidents per severity, every severity present (zero when none), read through incident_status_idx."""
    counts = dict(
        Incident.objects.filter(status__in=OPEN).values("severity").annotate(n=Count("id")).values_list("severity", "n")
    )
    return {severity: counts.get(severity, 0) for severity in SEVERITIES.values}
