"""The agent console's ticket pages and SLA settings, composed from the apps and registered once.

- The ticket admin: tickets' queue and page (tickets.admin.TicketAdmin), with escalation's
  SLA columns, filters, escalate action and views (escalation.admin_queue.SlaTicketAdmin);
  the ticket page's panels: left of the conversation the incidents it is linked to (and those it
  may be part of) and who is copied; right of it the SLA section, then the knowledge base's
  runbooks and reply templates;
  the queue's "Link to incident…" action (incidents.admin_tickets). Every change made from it
  goes through support.usecases.
- The incidents (incidents.admin.IncidentAdmin): the list, "Declare incident" and the incident
  page, whose forms run support.usecases' incident use cases.
- The SLA settings that move deadlines (calendars, policies, tier targets, rules): escalation's
  admins, whose "recompute the open tickets" is support.usecases.sla_recompute_open.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path

from escalation import admin as escalation_admin
from escalation import admin_queue
from escalation.models import BusinessCalendar, EscalationRule, SlaPolicy, TierTarget
from incidents import admin as incidents_admin
from incidents import admin_tickets as incident_tickets
from incidents.models import Incident
from knowledge import console as knowledge_console
from tickets.models import Ticket

from . import console as support_console
from . import phone
from . import usecases as support_usecases


@admin.register(Ticket)
class TicketConsoleAdmin(admin_queue.SlaTicketAdmin):
    usecases = support_usecases
    actions = [*admin_queue.SlaTicketAdmin.actions, incident_tickets.link_to_incident]

    def console_panels(self, request: HttpRequest, ticket: Ticket) -> list[str | None]:
        # Under the ticket's fields, left of the conversation.
        return [
            incident_tickets.ticket_incidents_panel(request, ticket),
            support_console.cc_panel(request, ticket),
        ]

    def console_side_panels(self, request: HttpRequest, ticket: Ticket) -> list[str | None]:
        # Right of the conversation: the SLA clocks and escalations, then the runbooks and articles.
        return [
            admin_queue.ticket_sla_console_panel(request, ticket),
            knowledge_console.console_panel(request, ticket),
        ]

    def get_urls(self):
        # Before the defaults: their "<path:object_id>/" would swallow "phone/".
        calls = [path("phone/", self.admin_site.admin_view(self.phone_view), name="tickets_ticket_phone")]
        return calls + super().get_urls()

    def phone_view(self, request: HttpRequest) -> HttpResponse:
        return phone.phone_ticket_view(self, request)

    def delete_model(self, request, obj):
        support_usecases.tickets_delete(ticket_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        support_usecases.tickets_delete(ticket_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(Incident)
class IncidentConsoleAdmin(incidents_admin.IncidentAdmin):
    usecases = support_usecases


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(escalation_admin.BusinessCalendarAdmin):
    usecases = support_usecases


@admin.register(SlaPolicy)
class SlaPolicyAdmin(escalation_admin.SlaPolicyAdmin):
    usecases = support_usecases


@admin.register(TierTarget)
class TierTargetAdmin(escalation_admin.TierTargetAdmin):
    usecases = support_usecases


@admin.register(EscalationRule)
class EscalationRuleAdmin(escalation_admin.EscalationRuleAdmin):
    usecases = support_usecases
