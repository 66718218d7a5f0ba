"""The agent console: the Django admin as a thin door into the ticket services.

Reads go through selectors, every change through services; the admin only
parses input, makes one domain call and renders. Domain refusals become admin
messages or form errors, never a 500.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import display_for_field, unquote
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from accounts import permissions as account_permissions
from accounts import selectors as account_selectors
from sofacover.errors import DomainError

from . import admin_merge, admin_views, permissions, presence, selectors, services
from .filters import TicketFilter, search_tickets
from .models import Attachment, Ticket, TicketEvent
from .uploads import check_uploads

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Fields an agent edits on the change page; everything else is read-only.
EDITABLE_FIELDS = ("subject", "priority", "status", "tier", "category", "assignee", "resolution_note")
# What the page shows but never edits; the requester and the times are one field (ticket_facts).
READONLY_FIELDS = ("reference", "description", "ticket_facts")
# The ticket_facts rows: (label, field name).
FACTS = (
    (gettext_lazy("Requester"), "requester"),
    (gettext_lazy("Channel"), "channel"),
    (gettext_lazy("Created"), "created_at"),
    (gettext_lazy("Updated"), "updated_at"),
    (gettext_lazy("First response"), "first_responded_at"),
    (gettext_lazy("Resolved"), "resolved_at"),
    (gettext_lazy("Closed"), "closed_at"),
)
# Constant CSS class names from admin.css; never built from data.
PRIORITY_CLASSES: dict[str, str] = {
    Ticket.Priority.P0: "console-priority console-priority-p0",
    Ticket.Priority.P1: "console-priority console-priority-p1",
    Ticket.Priority.P2: "console-priority console-priority-p2",
    Ticket.Priority.P3: "console-priority console-priority-p3",
}
# Timeline values stored as codes, shown as labels.
EVENT_VALUE_LABELS: dict[str, dict[str, StrOrPromise]] = {
    "status": dict(Ticket.Status.choices),
    "priority": dict(Ticket.Priority.choices),
    "tier": {str(value): label for value, label in Ticket.Tier.choices},
    "category": dict(Ticket.Category.choices),
}
MAX_REFUSALS_SHOWN = 10
QUEUE_COUNT_CAP = selectors.COUNT_CAP  # more on the queue's later pages
# Pages the queue always offers after the current one, while there are tickets for them.
QUEUE_PAGES_AHEAD = 10


def request_now(request: HttpRequest) -> datetime:
    """The clock, read once per request and reused by every column and call."""
    now = getattr(request, "_console_now", None)
    if now is None:
        now = timezone.now()
        request._console_now = now  # type: ignore[attr-defined]
    return now


def user_label(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


def duration_label(value: timedelta, *, signed: bool = False) -> str:
    """``2 h 5 min``; ``signed`` adds ``+``/``-`` (``-2 h``). Two units at most, whole minutes."""
    negative = value < timedelta(0)
    minutes = int(abs(value).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [text for amount, text in ((days, f"{days} d"), (hours, f"{hours} h"), (mins, f"{mins} min")) if amount]
    label = " ".join(parts[:2]) or "0 min"
    if signed:
        return ("-" if negative else "+") + label
    return ("-" if negative else "") + label


def agent_choice_label(choice: account_selectors.AgentChoice) -> str:
    return f"{choice.full_name} ({choice.username})" if choice.full_name else choice.username


def attachment_url(attachment: Attachment) -> str | None:
    """The portal download view checks who asks; without it the console shows the name only."""
    try:
        return reverse("portal:attachment", kwargs={"uuid": attachment.uuid})
    except NoReverseMatch:
        return None


def clipped(value: str) -> SafeString | str:
    """A queue cell's text cut to its column with an ellipsis by CSS; the whole value in the title."""
    if not value:
        return ""
    return format_html('<span class="queue-clip" title="{}">{}</span>', value, value)


def moment_cell(value: datetime | None) -> SafeString | str:
    """``6 Dec 02:46`` in the desk's zone (the year when it is not this one), the full moment in the title."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    this_year = local.year == timezone.localtime().year
    short = f"{local.day} {local:%b %H:%M}" if this_year else f"{local.day} {local:%b %Y}"
    full = f"{local:%Y-%m-%d %H:%M %Z}"
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), full, short)


@admin.display(description=_("subject"), ordering="subject")
def queue_subject(ticket: Ticket) -> SafeString | str:
    """The subject on one line, clipped to the room the queue has (a callable named like the field keeps
    the column's class, column-subject)."""
    return clipped(ticket.subject)


queue_subject.__name__ = "subject"


class AssigneeFilter(admin.SimpleListFilter):
    """Mine, unassigned, or one agent: the same values the API's ``assignee`` filter takes."""

    title = gettext_lazy("assignee")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        agents = [
            (agent.username, agent.full_name or agent.username) for agent in account_selectors.agent_choice_list()
        ]
        return [("me", gettext("Mine")), ("none", gettext("Unassigned")), *agents]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return TicketFilter(request=request).filter_assignee(queryset, self.parameter_name, value)


class QueuePaginator(Paginator):
    """Counts only as far as the page links need: COUNT(*) over a large desk cost more than the page.

    The count stops one row past ``QUEUE_COUNT_CAP`` tickets, or past
    ``QUEUE_PAGES_AHEAD`` pages after the current one if that is further: the
    first page of any queue reads at most 1,001 index entries to count, and the
    page links still reach every ticket, ten pages further at each step. A count
    that stopped is a ``MoreThan``, which the admin's templates print as ``1,000+``.
    """

    object_list: QuerySet[Ticket]

    def __init__(self, object_list, per_page, *, page_number: int = 1, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.cap = max(QUEUE_COUNT_CAP, (max(page_number, 1) + QUEUE_PAGES_AHEAD) * int(per_page))

    @cached_property
    def count(self) -> int:
        return selectors.capped_count(self.object_list, self.cap)


class TicketChangeList(ChangeList):
    """The queue never shows descriptions (up to 20,000 characters each): don't load them."""

    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer("description")


class TicketConsoleForm(forms.ModelForm):
    # Who is editing (TicketAdmin.get_form sets it on the form class it builds for the request).
    console_user: Any = None

    class Meta:
        model = Ticket
        fields = EDITABLE_FIELDS
        widgets = {"resolution_note": forms.Textarea(attrs={"rows": 3, "cols": 80})}
        help_texts = {
            "resolution_note": gettext_lazy(
                "How it was resolved, for the customer: their resolution mail quotes it. "
                "Required to resolve a P0 or P1."
            )
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        status, priority = data.get("status"), data.get("priority") or self.instance.priority
        resolving = status == Ticket.Status.RESOLVED and self.initial.get("status") != Ticket.Status.RESOLVED
        if (
            resolving
            and not (data.get("resolution_note") or "").strip()
            and services.resolution_note_required(priority=priority, actor=self.console_user)
        ):
            self.add_error(
                "resolution_note",
                gettext("Say how this %(priority)s ticket was resolved: the customer is told.")
                % {"priority": priority},
            )
        note_typed = "resolution_note" in self.changed_data and (data.get("resolution_note") or "").strip()
        if note_typed and status != Ticket.Status.RESOLVED:
            self.add_error(
                "resolution_note", gettext("A resolution note goes with resolving: set the status to resolved.")
            )
        return data

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        current = self.initial.get("status", "")
        if self.instance.pk and status != current and not services.transition_allowed(current, status):
            raise ValidationError(
                gettext("A %(current)s ticket cannot become %(status)s."),
                code="invalid_transition",
                params={
                    "current": Ticket.Status(current).label.lower(),
                    "status": Ticket.Status(status).label.lower(),
                },
            )
        return status


class ReplyForm(forms.Form):
    """The ticket page's reply box: a public reply or an internal note (``internal``), one textarea.

    Its ids start ``id_reply_`` (REPLY_AUTO_ID): the page has other forms with a ``body`` field (the
    knowledge base's template reply), and a label must focus its own box. ``seen`` is the newest
    message the agent had on screen: a reply posted after someone else's, unseen, waits for a
    confirmation (``confirmed``) with the new message shown.
    """

    body = forms.CharField(
        required=False,
        strip=False,
        max_length=50000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        label=gettext_lazy("Message"),
    )
    internal = forms.BooleanField(required=False, label=gettext_lazy("Internal note (never shown to the customer)"))
    seen = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


REPLY_AUTO_ID = "id_reply_%s"


def _priority_action(priority: Ticket.Priority):
    def action(modeladmin: TicketAdmin, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        modeladmin.run_bulk(
            request,
            queryset,
            "priority",
            gettext("Priority set to %(priority)s") % {"priority": priority.label},
            priority=priority,
        )

    action.__name__ = f"set_priority_{priority.value.lower()}"
    return admin.action(description=f"Set priority to {priority.label}", permissions=["work"])(action)


PRIORITY_ACTIONS = [_priority_action(priority) for priority in Ticket.Priority]


class TicketAdmin(admin.ModelAdmin):
    """The queue and the ticket page. Registered by support.admin, which composes it with the
    other apps' parts (SLA columns and section, knowledge panel) and supplies ``usecases``: every
    change made here goes through support.usecases, which tickets never imports."""

    usecases: Any = None  # support.usecases, set by the class support.admin registers
    form = TicketConsoleForm
    list_display_links = ("reference",)
    list_filter: ClassVar[tuple[str | type[admin.ListFilter], ...]] = (
        "priority",
        "status",
        "tier",
        AssigneeFilter,
        "category",
        "channel",
    )
    # Shows the search box; get_search_results does the searching.
    search_fields = ("reference", "subject", "requester__username")
    search_help_text = _(
        "Reference (SCP-000042), subject, description, requester email or the text of a reply or note."
    )
    list_select_related = ("requester", "assignee")
    # A screenful of the most urgent tickets: each row costs the queue as much as its queries do.
    list_per_page = 25
    show_full_result_count = False
    readonly_fields = READONLY_FIELDS
    fieldsets = (
        # The description is the conversation's first message on the page (change_form.html), not a field here.
        (None, {"fields": ("reference", "subject")}),
        (gettext_lazy("Triage"), {"fields": ("priority", "status", "tier", "category", "assignee", "resolution_note")}),
        # One read-only field rather than seven: each field line of the admin's form costs the page as much as
        # one of its queries.
        (gettext_lazy("Requester and times"), {"fields": ("ticket_facts",)}),
    )
    actions = ["assign_to_me", "resolve_tickets", *PRIORITY_ACTIONS, "merge_into"]

    class Media:
        css = {"all": ("tickets/admin.css",)}
        # Keyboard shortcuts on the queue and the ticket page; the ticket page's collision warning.
        js = ("tickets/console.js",)

    # --- the queue --------------------------------------------------------

    def get_queryset(self, request):
        # The ticket page shows the requester and the assignee too: read them with the ticket.
        tickets = self.model._default_manager.select_related("requester", "assignee")
        return tickets.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        # Active first, P0 first, oldest first: the order of ticket_urgency_idx.
        return selectors.URGENCY_ORDER

    def get_changelist(self, request, **kwargs):
        return TicketChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        try:
            page_number = int(request.GET.get(PAGE_VAR, 1))
        except ValueError:
            page_number = 1
        return QueuePaginator(
            queryset, per_page, orphans=orphans, allow_empty_first_page=allow_empty_first_page, page_number=page_number
        )

    def get_list_display(self, request):
        # Short cells, long values clipped with the whole value in a title: the queue fits a
        # 1366 px screen (tickets/static/tickets/queue.css).
        return (
            "reference",
            queue_subject,
            "priority_label",
            "status",
            "tier",
            "assignee_label",
            "requester_email",
            self._age_column(request),
        )

    def action_checkbox(self, obj: Ticket) -> SafeString:
        # The same markup as ModelAdmin's, without rendering a form widget through the template engine
        # for each of the page's rows (a fifth of the queue's time).
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )

    def _age_column(self, request: HttpRequest):
        """A column bound to this request's clock; built once so sorting finds the same callable."""
        column = getattr(request, "_console_age_column", None)
        if column is None:
            now = request_now(request)

            @admin.display(description=_("age"), ordering="created_at")
            def age(ticket: Ticket) -> str:
                # The due columns' compact form: timesince() cost more than the rest of the row.
                return duration_label(now - ticket.created_at)

            column = request._console_age_column = age  # type: ignore[attr-defined]
        return column

    @admin.display(description=_("priority"), ordering="priority")
    def priority_label(self, ticket: Ticket) -> str:
        # "P0" in the cell, "P0 Critical" on hover and for screen readers.
        return format_html(
            '<span class="{}" title="{}">{}</span>',
            PRIORITY_CLASSES[ticket.priority],
            ticket.get_priority_display(),
            ticket.priority,
        )

    @admin.display(description=_("assignee"), ordering="assignee__username", empty_value="—")
    def assignee_label(self, ticket: Ticket) -> str | None:
        return clipped(user_label(ticket.assignee)) or None

    @admin.display(description=_("requester"), ordering="requester__username")
    def requester_email(self, ticket: Ticket) -> str:
        return clipped(ticket.requester.username)

    @admin.display(description=gettext_lazy("requester and times"))
    def ticket_facts(self, ticket: Ticket) -> str:
        """The requester, the channel and the ticket's times, each shown as the admin shows a read-only field."""
        empty = self.get_empty_value_display()
        rows = []
        for label, name in FACTS:
            if name == "requester":
                value = ticket.requester.username
            else:
                field = Ticket._meta.get_field(name)
                assert isinstance(field, models.Field)
                value = display_for_field(getattr(ticket, name), field, empty)
            rows.append((label, value))
        return format_html('<dl class="console-facts">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))

    def changelist_view(self, request, extra_context=None):
        # The saved views above the queue: cached per agent, no query of the page's own.
        views = admin_views.saved_views.views_for(request.user) if self.has_work_permission(request) else []
        context = {
            "saved_views": views,
            "saved_view_form": admin_views.SaveViewForm(initial={"query": request.GET.urlencode()}),
            "saved_view_can_share": self.has_work_permission(request) and account_permissions.is_manager(request.user),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def _views_door(self, which: str):
        doors: dict[str, Any] = {
            "manage": admin_views.manage_views,
            "save": admin_views.save_view,
            "rename": admin_views.rename_view,
            "delete": admin_views.delete_view,
        }
        door = doors[which]
        return lambda request, **kwargs: door(self, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        # The console is the desk's: internal notes are searched too.
        return search_tickets(queryset, search_term, include_internal=permissions.can_work_ticket(request.user)), False

    # --- permissions ------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tickets are filed through the portal, email and the API (support.usecases.file_ticket).
        return False

    def has_change_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        # A closed ticket can no longer change, and a ticket outside the agent's scope (above their
        # tier, not assigned to them) is theirs to read only: either page is view-only.
        if obj is not None and (
            obj.status == Ticket.Status.CLOSED or not permissions.can_change_ticket(request.user, obj)
        ):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_work_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tickets.work_ticket")

    # --- editing through services ----------------------------------------

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            # The submitted agent is checked against the queryset; the choices shown come from the cache.
            kwargs["queryset"] = account_selectors.agent_list()
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            if isinstance(field, forms.ModelChoiceField):
                blank = [] if field.empty_label is None else [("", field.empty_label)]
                agents = [(agent.pk, agent_choice_label(agent)) for agent in account_selectors.agent_choice_list()]
                field.choices = [*blank, *agents]
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = cast(type[TicketConsoleForm], super().get_form(request, obj, change=change, **kwargs))
        form.console_user = request.user  # a class made for this request
        return form

    def save_model(self, request, obj, form, change):
        if not change:  # pragma: no cover - adding is disabled above
            raise PermissionDenied
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        if not changes:
            return
        try:
            # The service re-reads the row under a lock and compares with what is stored.
            self.usecases.change(
                ticket=Ticket.objects.get(pk=obj.pk), actor=request.user, now=request_now(request), **changes
            )
        except DomainError as exc:
            # Lost a race with another change after the form validated: report, write nothing.
            request._console_refused = True
            self.message_user(request, exc.message, messages.ERROR)

    def log_change(self, request, obj, message):
        if getattr(request, "_console_refused", False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        if getattr(request, "_console_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    # --- the change page: thread, reply form, timeline --------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._console_context(request, obj))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def _console_context(self, request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
        pairs = list(selectors.message_thread_visible_to(user=request.user, ticket=ticket))
        thread = [
            {"message": message, "attachments": [(attachment, attachment_url(attachment)) for attachment in attached]}
            for message, attached in pairs
        ]
        timeline = [
            {
                "event": event,
                "old": self._event_value(event, event.old_value),
                "new": self._event_value(event, event.new_value),
            }
            for event in selectors.event_list_visible_to(user=request.user, ticket=ticket)
        ]
        in_scope = permissions.can_change_ticket(request.user, ticket)
        can_reply = self.has_work_permission(request) and in_scope and ticket.status != Ticket.Status.CLOSED
        # The newest message on screen: the reply box sends it back, and the page's presence poll asks
        # what came after it.
        seen = max((message.pk for message, _ in pairs), default=0)
        site = self.admin_site.name
        return {
            "console_panels": [html for html in self.console_panels(request, ticket) if html],
            "console_side_panels": [html for html in self.console_side_panels(request, ticket) if html],
            "console_header_actions": [html for html in self.console_header_actions(request, ticket) if html],
            "console_out_of_scope": (
                None if in_scope or not self.has_work_permission(request) else services.outside_scope_message(ticket)
            ),
            "console_thread": thread,
            "console_seen": seen,
            "console_timeline": timeline,
            "console_can_reply": can_reply,
            "console_reply_form": ReplyForm(auto_id=REPLY_AUTO_ID, initial={"seen": seen}) if can_reply else None,
            "console_reply_url": reverse(f"{site}:tickets_ticket_reply", args=[ticket.pk], current_app=site),
            # Who else is here: for those who may work this ticket (the endpoint answers 404 to anyone else).
            "console_presence_url": (
                reverse(f"{site}:tickets_ticket_presence", args=[ticket.pk], current_app=site)
                if self.has_work_permission(request) and in_scope
                else None
            ),
        }

    def console_panels(self, request: HttpRequest, ticket: Ticket) -> list[str | None]:
        """Sections other apps add beside the ticket's fields (left column), rendered HTML or None
        (support.admin lists them)."""
        return []

    def console_header_actions(self, request: HttpRequest, ticket: Ticket) -> list[str | None]:
        """Links or small forms in the ticket page's header, beside History (e.g. merge, split): rendered
        HTML or None. The page adds nothing itself; support.admin may list some."""
        return []

    def console_side_panels(self, request: HttpRequest, ticket: Ticket) -> list[str | None]:
        """Sections other apps add on the conversation's other side (the SLA clocks, the runbooks),
        rendered HTML or None (support.admin lists them)."""
        return []

    @staticmethod
    def _event_value(event: TicketEvent, value: str) -> str:
        # A "created" event carries the priority the ticket was filed with.
        field = event.field or ("priority" if event.kind == TicketEvent.Kind.CREATED else "")
        return str(EVENT_VALUE_LABELS.get(field, {}).get(value, value))

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="tickets_ticket_reply",
            ),
            # Not admin_view: anyone who may not work the ticket gets a 404, never the login page.
            path("<path:object_id>/presence/", never_cache(self.presence_view), name="tickets_ticket_presence"),
            path("views/", self.admin_site.admin_view(self._views_door("manage")), name="tickets_ticket_views"),
            path("views/save/", self.admin_site.admin_view(self._views_door("save")), name="tickets_ticket_view_save"),
            path(
                "views/<int:pk>/rename/",
                self.admin_site.admin_view(self._views_door("rename")),
                name="tickets_ticket_view_rename",
            ),
            path(
                "views/<int:pk>/delete/",
                self.admin_site.admin_view(self._views_door("delete")),
                name="tickets_ticket_view_delete",
            ),
            path(
                "<path:object_id>/merge/",
                self.admin_site.admin_view(lambda request, object_id: admin_merge.merge_view(self, request, object_id)),
                name="tickets_ticket_merge",
            ),
            path(
                "<path:object_id>/split/<str:message_id>/",
                self.admin_site.admin_view(
                    lambda request, object_id, message_id: admin_merge.split_view(self, request, object_id, message_id)
                ),
                name="tickets_ticket_split",
            ),
        ]
        # Before the defaults: their "<path:object_id>/" would swallow ".../reply/".
        return custom + super().get_urls()

    def console_form_target(self, request: HttpRequest, object_id: str) -> tuple[Ticket, str] | HttpResponse:
        """For a form the ticket page posts to its own URL: the ticket and the page to go back to.

        403 without the work permission, 405 for anything but POST (returned), 404 for no such ticket.
        """
        if not self.has_work_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ticket = self.get_object(request, unquote(object_id))
        if ticket is None:
            raise Http404(gettext("No such ticket."))
        back = reverse(
            f"{self.admin_site.name}:tickets_ticket_change", args=[ticket.pk], current_app=self.admin_site.name
        )
        return ticket, back

    def reply_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Post a public reply or an internal note, with attachments, then go back to the ticket."""
        target = self.console_form_target(request, object_id)
        if isinstance(target, HttpResponse):
            return target
        ticket, back = target
        form = ReplyForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, str(error), messages.ERROR)  # (an ErrorList yields strings)
            return HttpResponseRedirect(f"{back}#reply")
        internal = form.cleaned_data["internal"]
        seen = form.cleaned_data["seen"]
        if seen is not None and not form.cleaned_data["confirmed"]:
            newer = self._messages_since(request, ticket, seen)
            if newer:
                return self._reply_confirm(request, ticket, form, newer)
        try:
            attachments = check_uploads(request.FILES.getlist("attachments"))
            self.usecases.reply(
                ticket=ticket,
                author=request.user,
                body=form.cleaned_data["body"],
                internal=internal,
                attachments=attachments,
                now=timezone.now(),
            )
        except ValidationError as exc:
            for error in exc.messages:
                self.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(f"{back}#reply")
        except services.TicketMerged:
            # Merged while the agent wrote: the reply is shown again, to post on the survivor.
            return admin_merge.reply_moved(self, request, ticket, form.cleaned_data["body"], internal)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(f"{back}#reply")
        self.message_user(
            request,
            gettext("Internal note added.") if internal else gettext("Reply sent to the customer."),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(f"{back}#thread")

    @staticmethod
    def _messages_since(request: HttpRequest, ticket: Ticket, seen: int) -> list[Any]:
        """Messages by someone else, visible to this agent, added after the one with pk ``seen``."""
        return list(
            selectors.message_list_visible_to(user=request.user, ticket=ticket)
            .filter(pk__gt=seen)
            .exclude(author_id=request.user.pk)
        )

    def _reply_confirm(self, request: HttpRequest, ticket: Ticket, form: ReplyForm, newer: list[Any]) -> HttpResponse:
        """Someone replied since the page was loaded: show what they wrote, keep the draft, ask again."""
        newest = max(message.pk for message in newer)
        again = ReplyForm(
            initial={
                "body": form.cleaned_data["body"],
                "internal": form.cleaned_data["internal"],
                "seen": newest,
                "confirmed": True,
            },
            auto_id=REPLY_AUTO_ID,
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": ticket,
            "title": gettext("New message on %(reference)s") % {"reference": ticket.reference},
            "newer": newer,
            "form": again,
            "internal": form.cleaned_data["internal"],
            "had_attachments": bool(request.FILES.getlist("attachments")),
            "reply_url": request.path,
            "back_url": reverse(
                f"{self.admin_site.name}:tickets_ticket_change", args=[ticket.pk], current_app=self.admin_site.name
            ),
        }
        return TemplateResponse(request, "admin/tickets/ticket/reply_confirm.html", context, status=409)

    def presence_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The collision warning's poll: mark this agent viewing/replying; answer who else is here and
        what was added since the message the page shows last (``seen``). POST only (it writes the mark).

        Agents who may change the ticket only: anyone else, signed in or not, gets a 404.
        """
        user = request.user
        if not permissions.can_work_ticket(user):
            raise Http404(gettext("No such ticket."))
        try:
            ticket = self.get_queryset(request).get(pk=int(unquote(object_id)))
        except (ValueError, Ticket.DoesNotExist):
            raise Http404(gettext("No such ticket.")) from None
        if not permissions.can_change_ticket(user, ticket):
            raise Http404(gettext("No such ticket."))
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        state = request.POST.get("state", presence.VIEWING)
        if state not in presence.STATES:
            return JsonResponse({"state": [gettext("Say viewing, replying or gone.")]}, status=400)
        try:
            seen = int(request.POST.get("seen", "") or -1)
        except ValueError:
            return JsonResponse({"seen": [gettext("A message number.")]}, status=400)
        others = presence.presence_mark(
            ticket_id=ticket.pk,
            user_id=int(user.pk or 0),
            name=user_label(user),
            state=state,
            now=timezone.now().timestamp(),
        )
        newer = self._messages_since(request, ticket, seen) if seen >= 0 else []
        return JsonResponse(
            {
                "others": others,
                "newer": [
                    {
                        "id": message.pk,
                        "author": user_label(message.author),
                        "internal": message.internal,
                        "at": message.created_at.isoformat(),
                        "body": message.body[:2000],
                    }
                    for message in newer
                ],
                "poll_seconds": presence.POLL_SECONDS,
            }
        )

    # --- bulk actions -----------------------------------------------------

    @admin.action(description=gettext_lazy("Assign to me"), permissions=["work"])
    def assign_to_me(self, request, queryset):
        self.run_bulk(request, queryset, "assign", gettext("Assigned to you"), assignee=request.user)

    @admin.action(description=_("Merge into…"), permissions=["work"])
    def merge_into(self, request, queryset):
        return admin_merge.merge_selected(self, request, queryset)

    @admin.action(description=gettext_lazy("Resolve"), permissions=["work"])
    def resolve_tickets(self, request, queryset):
        self.run_bulk(request, queryset, "resolve", gettext("Resolved"))

    def run_bulk(
        self, request: HttpRequest, queryset: QuerySet[Ticket], action: str, done_label: str, **kwargs: Any
    ) -> None:
        done, refused = self.usecases.bulk(
            batch=queryset.order_by("pk"),
            actor=request.user,
            now=request_now(request),
            action=action,
            **kwargs,
        )
        if done:
            self.message_user(
                request,
                ngettext("%(done)s: %(count)d ticket.", "%(done)s: %(count)d tickets.", done)
                % {"done": done_label, "count": done},
                messages.SUCCESS,
            )
        for refusal in refused[:MAX_REFUSALS_SHOWN]:
            self.message_user(request, gettext("Refused %(refusal)s") % {"refusal": refusal}, messages.WARNING)
        if len(refused) > MAX_REFUSALS_SHOWN:
            self.message_user(
                request,
                gettext("… and %(count)s more refused.") % {"count": len(refused) - MAX_REFUSALS_SHOWN},
                messages.WARNING,
            )
