"""The agent console's incidents: the list, the "Declare incident" form and the incident page.

A door like the ticket admin: it parses a form, makes one call to a use case and
renders. The use cases are support.usecases, which incidents never imports: the
class registered (support.admin.IncidentConsoleAdmin) sets ``usecases``. A refusal
(a DomainError) goes back on the form it came from, with a 400; nothing is written.

- List: open incidents first, then newest; severity, status, title, commander,
  declared, next update due (overdue in red, due soon in amber) and the linked
  tickets' count, read in the page's one query.
- Declare: every field of the procedures' Incident Declaration. ``?ticket=SCP-…``
  fills it from a ticket (severity from its priority, title from its subject, the
  components of its category) and links the ticket.
- The incident page: header (severity, status, commander, war room, MTTD, next
  update), the actions checklist, the status update form, the timeline, the linked
  tickets (link by reference, unlink), resolve, edit. Each form posts to its own URL.

Agents and managers only (``accounts.permissions.is_agent``); the admin site keeps
everyone else out. Incidents are a record: nobody deletes them here.
The ticket page's incidents panel and the queue's "Link to incident…" are in admin_tickets.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts import permissions as roles
from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
from tickets import selectors as ticket_selectors
from tickets.admin import PRIORITY_CLASSES, duration_label, request_now, user_label
from tickets.models import Ticket

from . import reviews, selectors, services
from .admin_forms import (
    ActionForm,
    DeclareForm,
    EditForm,
    LinkForm,
    ResolveForm,
    TickForm,
    UnlinkForm,
    UpdateForm,
    refuse,
)
from .models import Incident

Status = Incident.Status
# Constant CSS class names from incidents/console.css (and tickets/admin.css for severities).
STATUS_CLASSES: dict[str, str] = {
    Status.INVESTIGATING: "incident-status incident-status-investigating",
    Status.IDENTIFIED: "incident-status incident-status-identified",
    Status.MONITORING: "incident-status incident-status-monitoring",
    Status.RESOLVED: "incident-status incident-status-resolved",
}
DUE_CLASSES: dict[str, str] = {
    "overdue": "incident-due incident-due-overdue",
    "soon": "incident-due incident-due-soon",
    "later": "incident-due",
}
INCIDENT_REFERENCE = re.compile(r"^\s*INC-?0*([0-9]{1,12})\s*$", re.IGNORECASE)
SAFE_LINK_SCHEMES = ("http", "https")


def war_room_link(value: str) -> str | None:
    """The war room as a link, only when it is an http(s) URL with a host (never javascript: or data:)."""
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() in SAFE_LINK_SCHEMES and parts.netloc and not any(c.isspace() for c in value):
        return value
    return None


def update_due(incident: Incident, now: datetime) -> dict[str, str] | None:
    """The next update's state for the list and the page: overdue, due soon (the commander is being
    warned), or later; None when none is due (resolved, or no cadence for the severity)."""
    due = incident.next_update_due_at
    if due is None or not incident.is_open:
        return None
    left = due - now
    if left <= timedelta(0):
        state, text = "overdue", _("overdue by %(duration)s") % {"duration": duration_label(-left)}
    elif left <= services.UPDATE_WARNING_LEAD:
        state, text = "soon", _("in %(duration)s") % {"duration": duration_label(left)}
    else:
        state, text = "later", _("in %(duration)s") % {"duration": duration_label(left)}
    return {"state": state, "class": DUE_CLASSES[state], "text": text}


def moment(value: datetime | None) -> str:
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return f"{local.day} {local:%b %Y, %H:%M}"


class StateFilter(admin.SimpleListFilter):
    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Open")), ("resolved", _("Resolved"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(status__in=Incident.OPEN_STATUSES)
        if self.value() == "resolved":
            return queryset.filter(status=Status.RESOLVED)
        return queryset


class IncidentAdmin(admin.ModelAdmin):
    usecases: Any = None  # support.usecases, set by the class support.admin registers
    list_display_links = ("incident_reference", "title")
    list_filter = (StateFilter, "severity", "status", "source", "public", "components")
    search_fields = ("title",)
    search_help_text = gettext_lazy("Reference (INC-000042) or words of the title.")
    list_per_page = 50
    show_full_result_count = False

    class Media:
        css = {"all": ("tickets/admin.css", "incidents/console.css")}

    # --- permissions: agents and managers; nobody deletes -----------------

    def _desk(self, request: HttpRequest) -> bool:
        return roles.is_agent(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._desk(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._desk(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._desk(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._desk(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # --- the list ---------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return selectors.incident_console_list()

    def get_ordering(self, request: HttpRequest):
        return ("resolved_last", "-declared_at", "-pk")

    def get_search_results(self, request, queryset, search_term):
        match = INCIDENT_REFERENCE.match(search_term or "")
        if match:
            return queryset.filter(pk=int(match.group(1))), False
        return super().get_search_results(request, queryset, search_term)

    def get_list_display(self, request: HttpRequest):
        return (
            "incident_reference",
            "severity_label",
            "status_label",
            "title",
            "commander_label",
            "declared",
            self._next_update_column(request),
            "linked_tickets",
        )

    def _next_update_column(self, request: HttpRequest):
        """A column bound to this request's clock; built once per request so sorting finds it."""
        column = getattr(request, "_incident_due_column", None)
        if column is None:
            now = request_now(request)

            @admin.display(description=gettext_lazy("next update due"), ordering="next_update_due_at")
            def next_update(incident: Incident) -> str:
                due = update_due(incident, now)
                if due is None:
                    return "—"
                return format_html(
                    '<span class="{}" title="{}">{}</span>',
                    due["class"],
                    moment(incident.next_update_due_at),
                    due["text"],
                )

            column = request._incident_due_column = next_update  # type: ignore[attr-defined]
        return column

    @admin.display(description=gettext_lazy("incident"), ordering="pk")
    def incident_reference(self, incident: Incident) -> str:
        return incident.reference

    @admin.display(description=gettext_lazy("severity"), ordering="severity")
    def severity_label(self, incident: Incident) -> str:
        return format_html(
            '<span class="{}">{}</span>', PRIORITY_CLASSES[incident.severity], incident.get_severity_display()
        )

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_label(self, incident: Incident) -> str:
        return format_html('<span class="{}">{}</span>', STATUS_CLASSES[incident.status], incident.get_status_display())

    @admin.display(description=gettext_lazy("commander"), ordering="commander__username", empty_value="—")
    def commander_label(self, incident: Incident) -> str | None:
        return user_label(incident.commander) or None

    @admin.display(description=gettext_lazy("declared"), ordering="declared_at")
    def declared(self, incident: Incident) -> str:
        return moment(incident.declared_at)

    @admin.display(description=gettext_lazy("linked tickets"), ordering="linked_count")
    def linked_tickets(self, incident: Incident) -> int:
        return incident.linked_count  # type: ignore[attr-defined]  # annotated by incident_console_list

    # --- URLs ---------------------------------------------------------------

    def get_urls(self):
        site = self.admin_site
        posts = [
            ("update", self.update_view),
            ("actions/add", self.action_add_view),
            ("link", self.link_view),
            ("unlink", self.unlink_view),
            ("resolve", self.resolve_view),
            ("edit", self.edit_view),
            ("link-ticket", self.link_ticket_view),
            ("review", self.review_view),
        ]
        custom = [
            path(
                f"<path:object_id>/{name}/",
                site.admin_view(view),
                name=f"incidents_incident_{name.replace('/', '_').replace('-', '_')}",
            )
            for name, view in posts
        ]
        custom.append(
            path(
                "<path:object_id>/actions/<int:action_id>/tick/",
                site.admin_view(self.action_tick_view),
                name="incidents_incident_action_tick",
            )
        )
        # Before the defaults: their "<path:object_id>/" would swallow ".../update/".
        return custom + super().get_urls()

    def _url(self, name: str, *args: Any) -> str:
        site = self.admin_site.name
        return reverse(f"{site}:incidents_incident_{name}", args=args, current_app=site)

    def page_url(self, incident: Incident, anchor: str = "") -> str:
        return self._url("change", incident.pk) + (f"#{anchor}" if anchor else "")

    # --- declare ------------------------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        user = signed_in_user(request)
        from_ticket: Ticket | None = None
        if request.method == "POST":
            form = DeclareForm(request.POST, user=user)
            if form.is_valid():
                from_ticket = form.cleaned_data["ticket"]
                incident = self._declare(request, form)
                if incident is not None:
                    messages.success(request, _("%(reference)s declared.") % {"reference": incident.reference})
                    return HttpResponseRedirect(self.page_url(incident))
        elif request.method == "GET":
            reference = request.GET.get("ticket", "").strip()
            # "Declare incident from this ticket": 404 for a reference nobody may see.
            from_ticket = ticket_selectors.ticket_get_visible_to(user=user, reference=reference) if reference else None
            form = DeclareForm(initial=self._declare_initial(user, from_ticket), user=user)
        else:
            return HttpResponseNotAllowed(["GET", "POST"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Declare incident"),
            "form": form,
            "from_ticket": from_ticket,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(request, "admin/incidents/incident/declare.html", context, status=status)

    @staticmethod
    def _declare_initial(user: User, ticket: Ticket | None) -> dict[str, Any]:
        """The form's first values: public, commanded by whoever declares; from a ticket, its priority as
        the severity, its subject as the title, the components of its category, and the ticket to link."""
        initial: dict[str, Any] = {"public": True, "commander": user.pk}
        if ticket is not None:
            initial.update(
                severity=ticket.priority,
                title=ticket.subject[:200],
                ticket=ticket.reference,
                components=[c.pk for c in selectors.components_for_category(ticket.category)],
            )
        return initial

    def _declare(self, request: HttpRequest, form: DeclareForm) -> Incident | None:
        data = form.cleaned_data
        ticket = data["ticket"]
        try:
            return self.usecases.declare_incident(
                declared_by=signed_in_user(request),
                now=timezone.now(),
                severity=data["severity"],
                title=data["title"],
                impact=data["impact"],
                users_affected=data["users_affected"],
                started_at=data["started_at"],
                detected_at=data["detected_at"],
                commander=data["commander"],
                war_room=data["war_room"],
                actions=data["actions"],
                components=list(data["components"]),
                public=data["public"],
                public_message=data["public_message"],
                functionality=data["functionality"],
                expected_resolution=data["expected_resolution"],
                source=Incident.Source.TICKET if ticket is not None else Incident.Source.CONSOLE,
                ticket=ticket,
            )
        except DomainError as exc:
            refuse(form, exc)
            return None

    # --- the incident page -------------------------------------------------

    def _incident(self, request: HttpRequest, object_id: str) -> Incident:
        if not self.has_change_permission(request):
            raise PermissionDenied
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            raise Http404(_("No such incident."))
        return incident

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return self.render_page(request, self._incident(request, object_id))

    def render_page(
        self, request: HttpRequest, incident: Incident, *, bound: dict[str, forms.Form] | None = None
    ) -> HttpResponse:
        """The incident page; ``bound`` holds the form that was refused, shown with its errors (400)."""
        user = signed_in_user(request)
        now = request_now(request)
        actions, events, links = selectors.incident_page(incident)
        components = selectors.components_marked(incident)
        oldest_first = request.GET.get("timeline") == "oldest"
        page_forms: dict[str, forms.Form | None] = {
            "edit_form": EditForm(incident=incident, components=components),
            "update_form": UpdateForm(initial={"status": incident.status}) if incident.is_open else None,
            "action_form": ActionForm() if incident.is_open else None,
            "link_form": LinkForm(user=user) if incident.is_open else None,
            "resolve_form": ResolveForm(incident=incident) if incident.is_open else None,
        }
        page_forms.update(bound or {})
        # A resolved incident's review (one query, only then): a link to it, or the button that opens one.
        review = reviews.review_of(incident) if incident.resolved_at is not None else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{incident.reference} {incident.title}",
            "incident": incident,
            "severity_class": PRIORITY_CLASSES[incident.severity],
            "status_class": STATUS_CLASSES[incident.status],
            "commander": user_label(incident.commander),
            "declared_by": user_label(incident.declared_by),
            "war_room_url": war_room_link(incident.war_room),
            "mttd": duration_label(incident.detected_at - incident.started_at),
            "time_to_resolve": (
                duration_label(incident.resolved_at - incident.started_at) if incident.resolved_at else None
            ),
            "due": update_due(incident, now),
            "affected": [c for c in components if c.affected],  # type: ignore[attr-defined]
            "actions": actions,
            "actions_done": sum(1 for a in actions if a.done_at),
            "timeline": events if oldest_first else events[::-1],
            "timeline_oldest_first": oldest_first,
            "links": links,
            "acknowledged": sum(1 for link in links if link.acknowledged_at),
            "now": now,
            "review": review,
            "review_url": (
                reverse(f"{self.admin_site.name}:incidents_review_change", args=[review.pk]) if review else None
            ),
            **page_forms,
        }
        status = 400 if any(form is not None and form.errors for form in (bound or {}).values()) else 200
        return TemplateResponse(request, "admin/incidents/incident/page.html", context, status=status)

    def _target(self, request: HttpRequest, object_id: str) -> Incident | HttpResponse:
        """The incident a form posts to: 405 for anything but POST (returned), 403 without the right, 404."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return self._incident(request, object_id)

    def _done(self, request: HttpRequest, incident: Incident, text: str, anchor: str) -> HttpResponse:
        messages.success(request, text)
        return HttpResponseRedirect(self.page_url(incident, anchor))

    def update_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        form = UpdateForm(request.POST)
        if form.is_valid():
            try:
                self.usecases.incident_update(
                    incident=incident,
                    author=signed_in_user(request),
                    body=form.cleaned_data["body"],
                    status=form.cleaned_data["status"],
                    public=form.cleaned_data["public"],
                    now=timezone.now(),
                )
            except DomainError as exc:
                refuse(form, exc)
            else:
                done = _("Update posted.") if form.cleaned_data["public"] else _("Internal note added.")
                return self._done(request, incident, done, "timeline")
        return self.render_page(request, incident, bound={"update_form": form})

    def action_add_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        form = ActionForm(request.POST)
        if form.is_valid():
            try:
                self.usecases.incident_action_add(
                    incident=incident,
                    text=form.cleaned_data["text"],
                    author=signed_in_user(request),
                    now=timezone.now(),
                )
            except DomainError as exc:
                refuse(form, exc)
            else:
                return self._done(request, incident, _("Action added."), "actions")
        return self.render_page(request, incident, bound={"action_form": form})

    def action_tick_view(self, request: HttpRequest, object_id: str, action_id: int) -> HttpResponse:
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        action = incident.actions.filter(pk=action_id).first()
        if action is None:
            raise Http404(_("No such action."))
        form = TickForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Say whether the action is done."))
            return HttpResponseRedirect(self.page_url(incident, "actions"))
        self.usecases.incident_action_tick(
            action=action, done=form.cleaned_data["done"], author=signed_in_user(request), now=timezone.now()
        )
        return HttpResponseRedirect(self.page_url(incident, "actions"))

    def link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        form = LinkForm(request.POST, user=signed_in_user(request))
        if form.is_valid():
            tickets = form.cleaned_data["tickets"]
            try:
                links = self.usecases.incident_link(
                    incident=incident, tickets=tickets, by=signed_in_user(request), now=timezone.now()
                )
            except DomainError as exc:
                refuse(form, exc)
            else:
                skipped = len(tickets) - len(links)
                text = ngettext("Linked %(count)d ticket.", "Linked %(count)d tickets.", len(links)) % {
                    "count": len(links)
                }
                if skipped:
                    text += " " + _("%(count)d already linked.") % {"count": skipped}
                return self._done(request, incident, text, "tickets")
        return self.render_page(request, incident, bound={"link_form": form})

    def unlink_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        form = UnlinkForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Say which ticket to unlink."))
            return HttpResponseRedirect(self.page_url(incident, "tickets"))
        ticket = ticket_selectors.ticket_get_visible_to(user=request.user, reference=form.cleaned_data["ticket"])
        unlinked = self.usecases.incident_unlink(
            incident=incident, ticket=ticket, by=signed_in_user(request), now=timezone.now()
        )
        if not unlinked:
            messages.warning(request, _("%(reference)s was not linked.") % {"reference": ticket.reference})
            return HttpResponseRedirect(self.page_url(incident, "tickets"))
        return self._done(
            request,
            incident,
            _("%(reference)s unlinked: it no longer resolves with the incident.") % {"reference": ticket.reference},
            "tickets",
        )

    def resolve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        form = ResolveForm(request.POST, incident=incident)
        if form.is_valid():
            try:
                self.usecases.resolve_incident(
                    incident=incident, by=signed_in_user(request), now=timezone.now(), **form.cleaned_data
                )
            except DomainError as exc:
                refuse(form, exc)
            else:
                return self._done(
                    request, incident, _("%(reference)s resolved.") % {"reference": incident.reference}, "timeline"
                )
        return self.render_page(request, incident, bound={"resolve_form": form})

    def edit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        form = EditForm(request.POST, incident=incident, components=selectors.components_marked(incident))
        if form.is_valid():
            try:
                self.usecases.incident_edit(
                    incident=incident, author=signed_in_user(request), now=timezone.now(), **form.changes()
                )
            except DomainError as exc:
                refuse(form, exc)
            else:
                return self._done(request, incident, _("Incident saved."), "edit")
        return self.render_page(request, incident, bound={"edit_form": form})

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Open post-incident review": a resolved incident of any severity gets its review (a P0/P1 has one
        from its resolution); a second press, or one on a page that was stale, goes to the existing one."""
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        existed = reviews.review_of(incident) is not None
        try:
            self.usecases.open_review(incident=incident, by=signed_in_user(request), now=timezone.now())
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(self.page_url(incident))
        names = {"reference": incident.reference}
        if existed:
            messages.info(request, _("%(reference)s already has its review.") % names)
        else:
            messages.success(request, _("Post-incident review opened for %(reference)s.") % names)
        return HttpResponseRedirect(self.page_url(incident, "review"))

    def link_ticket_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The ticket page's "Link to INC-…" suggestion: link that one ticket and go back to its page."""
        incident = self._target(request, object_id)
        if isinstance(incident, HttpResponse):
            return incident
        form = UnlinkForm(request.POST)  # the same one field: the ticket's reference
        if not form.is_valid():
            raise Http404(_("No such ticket."))
        ticket = ticket_selectors.ticket_get_visible_to(user=request.user, reference=form.cleaned_data["ticket"])
        try:
            self.usecases.incident_link(
                incident=incident, tickets=[ticket], by=signed_in_user(request), now=timezone.now()
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(ticket)s linked to %(incident)s.") % {"ticket": ticket.reference, "incident": incident.reference},
            )
        site = self.admin_site.name
        return HttpResponseRedirect(
            reverse(f"{site}:tickets_ticket_change", args=[ticket.pk], current_app=site) + "#incidents"
        )


# The post-incident reviews' pages and the status page's (components, maintenance, subscribers) live in
# their own modules, registered when this one is imported.
from . import review_admin, status_admin  # noqa: E402, F401
