"""Incidents on the console's ticket pages (tickets/admin.py never imports incidents; support.admin
lists these in the ticket admin it registers):

- ``ticket_incidents_panel``: a section of the ticket page listing the ticket's incidents and, while
  open incidents affect its component (by its category), a "Link to INC-…" button for each, and
  "Declare incident from this ticket". One query, whatever the ticket.
- ``link_to_incident``: the queue's bulk action, with a page choosing the open incident; it runs
  support.usecases.incident_link once, with every selected ticket.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy, ngettext

from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
from tickets import permissions as ticket_permissions
from tickets.admin import PRIORITY_CLASSES, request_now
from tickets.models import Ticket

from . import selectors
from .admin import STATUS_CLASSES

# The bulk action's page names this many of the selected tickets (and says how many more).
TICKETS_NAMED = 20


def ticket_incidents_panel(request: HttpRequest, ticket: Ticket) -> SafeString | None:
    """The ticket page's incidents section (agents only; None for anyone else)."""
    if not ticket_permissions.can_work_ticket(request.user):
        return None
    rows: list[dict[str, Any]] = [
        {
            "incident": incident,
            "linked": incident.linked,  # type: ignore[attr-defined]  # annotated by ticket_incident_panel
            "severity_class": PRIORITY_CLASSES[incident.severity],
            "status_class": STATUS_CLASSES[incident.status],
            "url": reverse("admin:incidents_incident_change", args=[incident.pk]),
            "link_url": reverse("admin:incidents_incident_link_ticket", args=[incident.pk]),
        }
        for incident in selectors.ticket_incident_panel(ticket)
    ]
    context = {
        "ticket": ticket,
        "linked": [row for row in rows if row["linked"]],
        "suggested": [row for row in rows if not row["linked"]],
        "declare_url": reverse("admin:incidents_incident_add") + f"?ticket={ticket.reference}",
    }
    return render_to_string("admin/incidents/ticket_panel.html", context, request=request)


class LinkToIncidentForm(forms.Form):
    incident = forms.ModelChoiceField(
        queryset=selectors.open_incidents(), empty_label=None, label=gettext_lazy("Open incident")
    )


@admin.action(description=gettext_lazy("Link to incident…"), permissions=["work"])
def link_to_incident(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Ticket]) -> TemplateResponse | None:
    """First the page choosing the incident (it posts the selection back with ``apply``), then one use case."""
    if "apply" in request.POST:
        form = LinkToIncidentForm(request.POST)
        if form.is_valid():
            incident = form.cleaned_data["incident"]
            tickets = list(queryset.order_by("pk"))
            try:
                links = modeladmin.usecases.incident_link(
                    incident=incident, tickets=tickets, by=signed_in_user(request), now=request_now(request)
                )
            except DomainError as exc:
                modeladmin.message_user(request, exc.message, messages.ERROR)
            else:
                skipped = len(tickets) - len(links)
                modeladmin.message_user(
                    request,
                    ngettext(
                        "Linked %(count)d ticket to %(incident)s.",
                        "Linked %(count)d tickets to %(incident)s.",
                        len(links),
                    )
                    % {"count": len(links), "incident": incident.reference}
                    + (" " + gettext("%(count)d already linked.") % {"count": skipped} if skipped else ""),
                    messages.SUCCESS,
                )
            return None
    else:
        form = LinkToIncidentForm()
    if not selectors.open_incidents().exists():
        modeladmin.message_user(request, gettext("No incident is open: declare one first."), messages.WARNING)
        return None
    count = queryset.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": gettext("Link tickets to an incident"),
        "form": form,
        "count": count,
        "named": list(queryset.order_by("pk").values_list("reference", flat=True)[:TICKETS_NAMED]),
        "more": max(count - TICKETS_NAMED, 0),
        # The selection as the queue posted it, posted again with the incident.
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "declare_url": reverse("admin:incidents_incident_add"),
    }
    return TemplateResponse(request, "admin/incidents/incident/link_tickets.html", context)
