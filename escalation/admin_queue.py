"""The ticket queue and ticket page of the agent console, extended by the SLA engine.

tickets/admin.py never imports escalation: this module subclasses its TicketAdmin;
support.admin registers the subclass, with this module's SLA section among the
ticket page's panels.

- Queue: time left to the response and resolution deadlines (negative once
  overdue) with on-track / at-risk / breached colours, an "SLA" filter made of
  database conditions on the stored columns with one ``now`` per request, sorting
  by the running deadlines, a "Lead review" filter (customers' escalation requests
  waiting for a lead), and an "Escalate to next tier" action.
- Ticket page: every deadline with its state and what explains it (policy,
  calendar, pause segments, breaches, escalations), the lead-review flag with its
  "Mark reviewed" button for leads, and an escalate form posting to a custom admin
  URL (shown to those who may change the ticket).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Q, When
from django.db.models.expressions import OrderBy
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy, ngettext

from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
from tickets import admin as ticket_admin
from tickets import permissions as ticket_permissions
from tickets.admin import duration_label
from tickets.models import Ticket

from . import selectors, services, sla
from .models import Escalation

# --- small formatting helpers -----------------------------------------------------


def moment_label(value: datetime | None) -> str:
    """``Sun 29 Nov 2026, 07:08`` in the desk's zone. Plain formatting: the queue shows a hundred of these,
    and Django's date_format took a fifth of a millisecond each."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


# --- the queue: SLA columns, filter, sort and the escalate action -----------------

ACTIVE = list(Ticket.ACTIVE_STATUSES)
PAUSED_STATUSES = [Ticket.Status.PENDING_CUSTOMER, Ticket.Status.RESOLVED]
# Constant CSS class names from escalation/sla.css; never built from data.
STATE_CLASSES = {
    selectors.SlaState.ON_TRACK: "console-sla console-sla-on-track",
    selectors.SlaState.AT_RISK: "console-sla console-sla-at-risk",
    selectors.SlaState.BREACHED: "console-sla console-sla-breached",
    selectors.SlaState.MET: "console-sla console-sla-met",
    selectors.SlaState.PAUSED: "console-sla console-sla-paused",
    selectors.SlaState.NOT_APPLICABLE: "console-sla console-sla-none",
}
STATE_LABELS = {
    selectors.SlaState.ON_TRACK: gettext_lazy("on track"),
    selectors.SlaState.AT_RISK: gettext_lazy("at risk"),
    selectors.SlaState.BREACHED: gettext_lazy("breached"),
    selectors.SlaState.MET: gettext_lazy("met"),
    selectors.SlaState.PAUSED: gettext_lazy("paused"),
    selectors.SlaState.NOT_APPLICABLE: gettext_lazy("not running"),
}
# The clocks the queue shows: (sla_state key, due column, warning column, "done" column).
CLOCKS = {
    "response": ("first_response_due_at", "first_response_warn_at", "first_responded_at"),
    "resolution": ("resolution_due_at", "resolution_warn_at", "resolved_at"),
}


def clock_conditions(due: str, warn: str, done: str, now: datetime) -> dict[str, Q]:
    """One clock's state as database conditions, mirroring selectors.sla_state exactly."""
    running = Q(**{f"{done}__isnull": True})
    paused_status = Q(status__in=PAUSED_STATUSES)
    ahead = running & Q(**{f"{due}__gt": now})
    return {
        selectors.SlaState.BREACHED: (running & Q(**{f"{due}__lte": now}))
        | Q(**{f"{done}__isnull": False, f"{due}__isnull": False, f"{done}__gt": F(due)}),
        selectors.SlaState.PAUSED: running & paused_status & (Q(**{f"{due}__isnull": True}) | Q(**{f"{due}__gt": now})),
        selectors.SlaState.AT_RISK: ahead & ~paused_status & Q(**{f"{warn}__lte": now}),
        selectors.SlaState.ON_TRACK: ahead
        & ~paused_status
        & (Q(**{f"{warn}__isnull": True}) | Q(**{f"{warn}__gt": now})),
    }


def sla_filter_conditions(now: datetime) -> dict[str, Q]:
    """A ticket's overall SLA state is its worst clock: breached, then at risk, then on track, then paused."""
    response = clock_conditions(*CLOCKS["response"], now)
    resolution = clock_conditions(*CLOCKS["resolution"], now)
    either = {state: response[state] | resolution[state] for state in response}
    breached = either[selectors.SlaState.BREACHED]
    at_risk = either[selectors.SlaState.AT_RISK] & ~breached
    on_track = either[selectors.SlaState.ON_TRACK] & ~breached & ~either[selectors.SlaState.AT_RISK]
    paused = (
        either[selectors.SlaState.PAUSED]
        & ~breached
        & ~either[selectors.SlaState.AT_RISK]
        & ~either[selectors.SlaState.ON_TRACK]
    )
    return {
        selectors.SlaState.AT_RISK: at_risk,
        selectors.SlaState.BREACHED: breached,
        selectors.SlaState.ON_TRACK: on_track,
        selectors.SlaState.PAUSED: paused,
    }


def overall_state(states: dict[str, str]) -> str | None:
    """The filter's meaning in Python, for one ticket's sla_state (used by the tests as the oracle)."""
    for state in (
        selectors.SlaState.BREACHED,
        selectors.SlaState.AT_RISK,
        selectors.SlaState.ON_TRACK,
        selectors.SlaState.PAUSED,
    ):
        if state in states.values():
            return state
    return None


class SlaFilter(admin.SimpleListFilter):
    """At risk, breached, on track or paused: conditions on the stored columns, one ``now`` per request."""

    title = gettext_lazy("SLA")
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [
            (selectors.SlaState.AT_RISK, gettext("At risk")),
            (selectors.SlaState.BREACHED, gettext("Breached")),
            (selectors.SlaState.ON_TRACK, gettext("On track")),
            (selectors.SlaState.PAUSED, gettext("Paused")),
        ]

    def queryset(self, request, queryset):
        conditions = sla_filter_conditions(ticket_admin.request_now(request))
        value = self.value()
        if value not in conditions:
            return queryset
        return queryset.filter(conditions[value])


class LeadReviewFilter(admin.SimpleListFilter):
    """Tickets whose customer asked to escalate: waiting for a lead's review, or reviewed."""

    title = gettext_lazy("lead review")
    parameter_name = "lead_review"

    def lookups(self, request, model_admin):
        return [("pending", gettext("Waiting for a lead")), ("reviewed", gettext("Reviewed"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "pending":
            return queryset.filter(Exists(Escalation.objects.filter(ticket=OuterRef("pk"), review_pending=True)))
        if value == "reviewed":
            return queryset.filter(Exists(Escalation.objects.filter(ticket=OuterRef("pk"), reviewed_at__isnull=False)))
        return queryset


def running_deadline(due: str, done: str) -> OrderBy:
    """Sort key: the deadline of a clock still running; tickets without one go last."""
    running = Case(
        When(Q(**{f"{done}__isnull": True}, status__in=ACTIVE), then=F(due)),
        default=None,
        output_field=DateTimeField(),
    )
    return OrderBy(running, nulls_last=True)


class AgentEscalateForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[
            (Escalation.Reason.TECHNICAL_COMPLEXITY, Escalation.Reason.TECHNICAL_COMPLEXITY.label),
            (Escalation.Reason.RESOURCE_CONSTRAINTS, Escalation.Reason.RESOURCE_CONSTRAINTS.label),
        ]
    )
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        label=gettext_lazy("Note"),
    )
    # The tier the page showed: a second click, or a page loaded before someone else escalated, is refused.
    from_tier = forms.TypedChoiceField(
        choices=Ticket.Tier.choices, coerce=int, required=False, empty_value=None, widget=forms.HiddenInput
    )


def escalation_done_label(escalation: Escalation) -> str:
    return (
        gettext("management") if escalation.to_management else gettext("Tier %(tier)s") % {"tier": escalation.to_tier}
    )


class SlaTicketAdmin(ticket_admin.TicketAdmin):
    """The colleague's agent console, plus what the SLA engine knows about each ticket."""

    list_filter = (*ticket_admin.TicketAdmin.list_filter, SlaFilter, LeadReviewFilter)
    actions = [*ticket_admin.TicketAdmin.actions, "escalate_next_tier"]

    class Media:
        css = {"all": ("escalation/sla.css",)}

    # --- the queue --------------------------------------------------------

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        at = columns.index("status") + 1 if "status" in columns else len(columns)
        columns[at:at] = self._due_columns(request)
        return tuple(columns)

    def _due_columns(self, request: HttpRequest) -> list:
        """Columns bound to this request's clock; built once so sorting finds the same callables."""
        columns = getattr(request, "_console_due_columns", None)
        if columns is None:
            now = ticket_admin.request_now(request)

            @admin.display(
                description=gettext_lazy("response due"),
                ordering=running_deadline("first_response_due_at", "first_responded_at"),
            )
            def response_due(ticket: Ticket) -> str:
                return self._time_left(ticket, "response", now)

            @admin.display(
                description=gettext_lazy("resolution due"),
                ordering=running_deadline("resolution_due_at", "resolved_at"),
            )
            def resolution_due(ticket: Ticket) -> str:
                return self._time_left(ticket, "resolution", now)

            columns = request._console_due_columns = [response_due, resolution_due]  # type: ignore[attr-defined]
        return columns

    @staticmethod
    def _time_left(ticket: Ticket, clock: str, now: datetime) -> str:
        state = selectors.sla_state(ticket, now=now)[clock]
        due_name, _, done_name = CLOCKS[clock]
        due, done = getattr(ticket, due_name), getattr(ticket, done_name)
        if done is not None:
            text = gettext("met late") if state == selectors.SlaState.BREACHED else gettext("met")
        elif due is not None and state in (
            selectors.SlaState.ON_TRACK,
            selectors.SlaState.AT_RISK,
            selectors.SlaState.BREACHED,
        ):
            text = duration_label(due - now)  # negative once overdue
        else:
            text = str(STATE_LABELS[state])
        title = (
            gettext("%(state)s; due %(due)s") % {"state": STATE_LABELS[state], "due": moment_label(due)}
            if due
            else STATE_LABELS[state]
        )
        return format_html('<span class="{}" title="{}">{}</span>', STATE_CLASSES[state], title, text)

    # --- the escalate action ----------------------------------------------

    @admin.action(description=gettext_lazy("Escalate to next tier (management from Tier 3)"), permissions=["work"])
    def escalate_next_tier(self, request: HttpRequest, queryset) -> None:
        now = ticket_admin.request_now(request)
        done: list[str] = []
        refused: list[str] = []
        for ticket in queryset.order_by("pk"):
            try:
                escalation = self.usecases.escalate(
                    ticket=ticket, actor=request.user, reason=Escalation.Reason.TECHNICAL_COMPLEXITY, now=now
                )
            except DomainError as exc:
                refused.append(f"{ticket.reference}: {exc.message}")
            else:
                done.append(f"{ticket.reference} → {escalation_done_label(escalation)}")
        if done:
            self.message_user(
                request,
                ngettext("Escalated %(count)d ticket: ", "Escalated %(count)d tickets: ", len(done))
                % {"count": len(done)}
                + ", ".join(done[: ticket_admin.MAX_REFUSALS_SHOWN])
                + (" …" if len(done) > ticket_admin.MAX_REFUSALS_SHOWN else "")
                + ".",
                messages.SUCCESS,
            )
        for refusal in refused[: ticket_admin.MAX_REFUSALS_SHOWN]:
            self.message_user(request, gettext("Refused %(refusal)s") % {"refusal": refusal}, messages.WARNING)
        if len(refused) > ticket_admin.MAX_REFUSALS_SHOWN:
            more = len(refused) - ticket_admin.MAX_REFUSALS_SHOWN
            self.message_user(request, gettext("… and %(count)s more refused.") % {"count": more}, messages.WARNING)

    # --- the change page: SLA panel and escalate form ---------------------

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/escalate/",
                self.admin_site.admin_view(self.escalate_view),
                name="tickets_ticket_escalate",
            ),
            path(
                "<path:object_id>/escalate/review/",
                self.admin_site.admin_view(self.review_view),
                name="tickets_ticket_escalation_review",
            ),
        ]
        return custom + super().get_urls()

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A lead marks the customer's escalation request reviewed: the ticket leaves the "Lead review" filter."""
        target = self.console_form_target(request, object_id)
        if isinstance(target, HttpResponse):
            return target
        ticket, back = target
        try:
            services.escalation_review(ticket=ticket, actor=signed_in_user(request), now=timezone.now())
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("The customer's escalation request on %(reference)s is reviewed.")
                % {"reference": ticket.reference},
            )
        return HttpResponseRedirect(f"{back}#sla")

    def escalate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Escalate one ticket with the agent's reason and note, then go back to its page."""
        target = self.console_form_target(request, object_id)
        if isinstance(target, HttpResponse):
            return target
        ticket, back = target
        form = AgentEscalateForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                for error in errors:
                    self.message_user(request, f"{field}: {error}", messages.ERROR)
            return HttpResponseRedirect(f"{back}#sla")
        try:
            escalation = self.usecases.escalate(
                ticket=ticket,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                now=timezone.now(),
                from_tier=form.cleaned_data["from_tier"],
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("Escalated %(reference)s to %(target)s.")
                % {"reference": ticket.reference, "target": escalation_done_label(escalation)},
                messages.SUCCESS,
            )
        return HttpResponseRedirect(f"{back}#sla")


# --- the deadline explanation -------------------------------------------------------


def _pure_state(due: datetime | None, warn: datetime | None, paused: bool, now: datetime) -> str:
    """State of a clock the selectors do not report (next update, tier response)."""
    if due is None:
        return selectors.SlaState.PAUSED if paused else selectors.SlaState.NOT_APPLICABLE
    if now >= due:
        return selectors.SlaState.BREACHED
    if paused:
        return selectors.SlaState.PAUSED
    if warn is not None and now >= warn:
        return selectors.SlaState.AT_RISK
    return selectors.SlaState.ON_TRACK


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def calendar_summary(calendar: sla.Calendar) -> str:
    if calendar.always_open:
        return "24x7"
    days = [
        f"{WEEKDAYS[day]} " + ", ".join(f"{opens:%H:%M}-{closes:%H:%M}" for opens, closes in calendar.hours[day])
        for day in sorted(calendar.hours)
    ]
    return "; ".join(days) or "no opening hours"


def target_label(target: sla.Span) -> str:
    """``4 h``, ``5 business days``: a target as the policy states it."""
    if isinstance(target, sla.BusinessDays):
        days = target.days
        return f"{days} business day{'s' if days != 1 else ''}"
    return duration_label(target)


def sla_explanation(ticket: Ticket, *, now: datetime) -> dict[str, Any]:
    """Everything needed to explain each deadline: policy, calendar, pause segments, breaches, escalations."""
    book = selectors.policy_book()
    entry = book.entry(ticket.priority)
    record = selectors.sla_record_for(ticket)
    pause_rows = record.pauses
    pauses = tuple(sla.Pause(p.started_at, p.ended_at) for p in pause_rows)
    states = selectors.sla_state(ticket, now=now)
    paused = ticket.status in PAUSED_STATUSES
    calendar = entry.calendar if entry else sla.ALWAYS
    targets = entry.targets if entry else None
    tier_target = book.tier_targets.get((ticket.tier, ticket.priority))
    update_since = ticket.last_agent_reply_at or ticket.first_responded_at
    specs = [
        (
            "First response",
            ticket.created_at,
            targets.first_response if targets else None,
            ticket.first_response_due_at,
            ticket.first_responded_at,
            states["response"],
        ),
        (
            "Resolution",
            ticket.created_at,
            targets.resolution if targets else None,
            ticket.resolution_due_at,
            ticket.resolved_at,
            states["resolution"],
        ),
        ("Next update", update_since, targets.update if targets else None, ticket.next_update_due_at, None, None),
        (
            f"Tier {ticket.tier} response",
            ticket.tier_entered_at or ticket.created_at,
            tier_target,
            ticket.tier_response_due_at,
            None,
            None,
        ),
    ]
    deadlines: list[dict[str, Any]] = []
    for label, start, target, due, done, state in specs:
        if state is None:
            warn = sla.warning_at(calendar, start, target, pauses) if start and target else None
            state = _pure_state(due, warn, paused, now)
        until = due or (done if done else now)
        paused_for = timedelta(0)
        if pauses and start is not None and until is not None and until > start:
            paused_for = sla.elapsed(calendar, start, until) - sla.elapsed(calendar, start, until, pauses)
        deadlines.append(
            {
                "label": label,
                "start": start,
                "target": target_label(target) if target is not None else None,
                "due": due,
                "done": done,
                "state": state,
                "state_label": STATE_LABELS[state],
                "state_class": STATE_CLASSES[state],
                "left": duration_label(due - now) if due is not None and done is None else None,
                "paused_for": duration_label(paused_for) if paused_for > timedelta(0) else None,
            }
        )
    window_end = max([d["due"] for d in deadlines if d["due"]] + [now])
    first_day, last_day = (
        ticket.created_at.astimezone(calendar.zone).date(),
        window_end.astimezone(calendar.zone).date(),
    )
    holidays: list[date] = sorted(day for day in calendar.holidays if first_day <= day <= last_day)
    return {
        "policy": entry.policy if entry else None,
        "calendar_name": entry.policy.calendar.name if entry else None,
        "calendar_zone": calendar.time_zone,
        "calendar_hours": calendar_summary(calendar),
        "holidays": holidays,
        "deadlines": deadlines,
        "pauses": [
            {
                "pause": pause,
                "lasted": duration_label((pause.ended_at or now) - pause.started_at),
                "open": pause.ended_at is None,
            }
            for pause in pause_rows
        ],
        "breaches": record.breaches,
        "escalations": list(selectors.escalation_list_for(ticket)),
        "now": now,
    }


def ticket_sla_console_panel(request: HttpRequest, ticket: Ticket) -> str:
    """The ticket page's SLA section (one of support.admin's panels): deadlines and escalate form."""
    now = ticket_admin.request_now(request)
    may_work = request.user.has_perm("tickets.work_ticket")
    can_escalate = may_work and ticket.is_active and ticket_permissions.can_change_ticket(request.user, ticket)
    panel = sla_explanation(ticket, now=now)
    review = next((escalation for escalation in panel["escalations"] if escalation.review_pending), None)
    context = {
        "sla_panel": panel,
        "ticket": ticket,
        "escalate_form": AgentEscalateForm(initial={"from_tier": ticket.tier}) if can_escalate else None,
        "escalate_url": reverse("admin:tickets_ticket_escalate", args=[ticket.pk]),
        "review": review,
        "can_review": review is not None and may_work and ticket_permissions.can_review_escalations(request.user),
        "review_url": reverse("admin:tickets_ticket_escalation_review", args=[ticket.pk]),
    }
    return render_to_string("admin/escalation/ticket/sla_panel.html", context, request=request)
