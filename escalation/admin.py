"""Agent console pages for the SLA engine's configuration and history.

- SLA configuration (calendars with their hours and holidays, policies, tier
  targets, escalation rules): managers and admins edit, agents only read (the
  group permissions of migration 0002 decide). Every save forgets the cached
  policy book; a change to a policy or calendar is previewed first (how many
  open tickets move, by how much) and applied with a recompute of open tickets.
- The engine's history (escalations, breaches, pauses, sweep runs): read-only.

The ticket queue and ticket page parts live in admin_queue.py (the outbox pages: notifications.admin).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.db import transaction
from django.forms.formsets import all_valid
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _

from tickets.admin import clipped, moment_cell
from tickets.models import Ticket

from . import selectors, services
from .admin_queue import duration_label
from .models import (
    BusinessCalendar,
    Escalation,
    Holiday,
    OpeningHours,
    SlaBreach,
    SlaPause,
    SlaPolicy,
    SweepRun,
)

PREVIEW_ROWS_SHOWN = 100
APPLY_FIELD = "_recompute_apply"


def forget_policy_book() -> None:
    """Forget the cached book now and again once the change is committed (no stale re-read in between)."""
    selectors.policy_book_forget()
    transaction.on_commit(selectors.policy_book_forget)


# --- SLA configuration: managers edit, agents read --------------------------------


class SlaConfigAdmin(admin.ModelAdmin):
    """Permissions are the model permissions: Managers/Admins add, change, delete; agents view.

    The admins that move deadlines (calendars, policies, tier targets, rules) are registered by
    support.admin, which supplies ``usecases`` (support.usecases: the recompute of open tickets
    keeps the reports' facts current too; escalation never imports reports).
    """

    usecases: Any = None

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_policy_book()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        forget_policy_book()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        forget_policy_book()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        forget_policy_book()


class _Rollback(Exception):
    """Raised inside the preview's savepoint so nothing it saved survives."""


class RecomputePreviewAdmin(SlaConfigAdmin):
    """A change that moves deadlines is shown first, then applied with a recompute of open tickets.

    Preview: the posted form and inlines are validated and saved inside a savepoint,
    ``sla_recompute_open(dry_run=True)`` measures what would move, and the savepoint
    is rolled back. "Apply" re-posts the same data with ``_recompute_apply``: the
    admin saves it as usual and ``sla_recompute_open`` rewrites the open tickets.
    """

    deadline_fields: tuple[str, ...] = ()

    def priorities_for(self, obj: Any) -> set[str]:
        raise NotImplementedError

    def _stored_priorities(self, object_id: str | None) -> set[str]:
        if object_id is None:
            return set()
        obj = self.model._default_manager.filter(pk=unquote(object_id)).first()
        return self.priorities_for(obj) if obj is not None else set()

    def _moves_deadlines(self, add: bool, form, formsets) -> bool:
        if add:
            return True
        return bool(set(form.changed_data) & set(self.deadline_fields)) or any(fs.has_changed() for fs in formsets)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and APPLY_FIELD not in request.POST:
            preview = self._preview(request, object_id)
            if preview is not None:
                return preview
        if request.method != "POST" or APPLY_FIELD not in request.POST:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            before = self._stored_priorities(object_id)
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if isinstance(response, HttpResponseRedirect):  # saved: the form was valid
                after = self._stored_priorities(object_id) if object_id else self._posted_priorities(request)
                self._recompute(request, before | after)
        return response

    def _posted_priorities(self, request: HttpRequest) -> set[str]:
        return set()

    def _recompute(self, request: HttpRequest, priorities: set[str]) -> None:
        if not priorities:
            return
        moved = self.usecases.sla_recompute_open(now=timezone.now(), priorities=sorted(priorities))
        self.message_user(
            request,
            ngettext(
                "Recomputed the open %(priorities)s tickets: %(count)d ticket moved.",
                "Recomputed the open %(priorities)s tickets: %(count)d tickets moved.",
                len(moved),
            )
            % {"priorities": ", ".join(sorted(priorities)), "count": len(moved)},
            messages.SUCCESS,
        )

    def _preview(self, request: HttpRequest, object_id: str | None) -> HttpResponse | None:
        """The preview page, or None to let the admin handle the POST (invalid, forbidden, or moves nothing)."""
        add = object_id is None
        obj = None if object_id is None else self.get_object(request, unquote(object_id))
        if not add and obj is None:
            return None
        allowed = self.has_add_permission(request) if add else self.has_change_permission(request, obj)
        if not allowed:
            return None
        before = self._stored_priorities(object_id)
        fieldsets = self.get_fieldsets(request, obj)
        form_class = self.get_form(request, obj, change=not add, fields=flatten_fieldsets(fieldsets))
        form = form_class(request.POST, request.FILES, instance=obj)
        form_valid = form.is_valid()
        new_object = self.save_form(request, form, change=not add) if form_valid else form.instance
        # The admin's own formset construction, so prefixes and permissions match the change page.
        formsets, _ = self._create_formsets(  # type: ignore[attr-defined]  # private: django-stubs omits it
            request, new_object, change=not add
        )
        if not (form_valid and all_valid(formsets)) or not self._moves_deadlines(add, form, formsets):
            return None
        now = timezone.now()
        moved: list[dict] = []
        priorities: set[str] = set()
        try:
            with transaction.atomic():
                self.save_model(request, new_object, form, change=not add)
                self.save_related(request, form, formsets, change=not add)
                priorities = before | self.priorities_for(new_object)
                if priorities:
                    moved = services.sla_recompute_open(now=now, priorities=sorted(priorities), dry_run=True)
                raise _Rollback
        except _Rollback:
            pass
        finally:
            selectors.policy_book_forget()  # the dry run cached the rolled-back book
        return self._render_preview(request, obj, moved, priorities, now)

    def _render_preview(
        self, request: HttpRequest, obj: Any, moved: list[dict], priorities: set[str], now: datetime
    ) -> TemplateResponse:
        opts = self.opts
        kinds = (("first_response", gettext("First response")), ("resolution", gettext("Resolution")))
        summary = []
        for key, label in kinds:
            shifts = Counter(row[key] for row in moved if row[key] is not None)
            summary.append(
                {
                    "label": label,
                    "count": sum(shifts.values()),
                    "shifts": [
                        (self._shift_label(shift), count)
                        for shift, count in sorted(shifts.items(), key=lambda item: item[0])
                    ],
                }
            )
        rows = [
            {
                "reference": row["reference"],
                "first_response": self._shift_label(row["first_response"]),
                "resolution": self._shift_label(row["resolution"]),
            }
            for row in moved[:PREVIEW_ROWS_SHOWN]
        ]
        posted = [
            (name, value) for name, values in request.POST.lists() if name != "csrfmiddlewaretoken" for value in values
        ]
        if obj is not None:
            cancel_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        else:
            cancel_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": (
                gettext("Preview the change to %(object)s") % {"object": obj}
                if obj is not None
                else gettext("Preview the new %(model)s") % {"model": opts.verbose_name}
            ),
            "opts": opts,
            "object": obj,
            "moved_count": len(moved),
            "summary": summary,
            "rows": rows,
            "rows_hidden": max(len(moved) - PREVIEW_ROWS_SHOWN, 0),
            "priorities": sorted(priorities),
            "posted": posted,
            "apply_field": APPLY_FIELD,
            "cancel_url": cancel_url,
            "previewed_at": now,
        }
        return TemplateResponse(request, "admin/escalation/recompute_preview.html", context)

    @staticmethod
    def _shift_label(shift: timedelta | None) -> str:
        if shift is None:
            return "—"
        if shift == timedelta(0):
            return "starts or stops"  # the deadline appears or disappears (sla_recompute_open gives 0)
        return duration_label(shift, signed=True)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0
    fields = ("weekday", "opens", "closes")


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0
    fields = ("date", "name")


class BusinessCalendarAdmin(RecomputePreviewAdmin):
    list_display = ("name", "time_zone", "always_open")
    inlines = (OpeningHoursInline, HolidayInline)
    deadline_fields = ("time_zone", "always_open")

    def priorities_for(self, obj: BusinessCalendar) -> set[str]:
        if obj.pk is None:
            return set()
        return set(SlaPolicy.objects.filter(calendar_id=obj.pk).values_list("priority", flat=True))


class SlaPolicyAdmin(RecomputePreviewAdmin):
    """Each target is an amount and its unit; saving one that moves deadlines previews the open tickets first."""

    list_display = (
        "priority",
        "calendar",
        "first_response",
        "resolution",
        "updates_every",
        "response_target_share",
        "resolution_target_share",
    )
    list_select_related = ("calendar",)
    fieldsets = (
        (None, {"fields": ("priority", "calendar")}),
        (
            gettext_lazy("Targets"),
            {
                "fields": (
                    ("first_response_target", "first_response_unit"),
                    ("resolution_target", "resolution_unit"),
                    ("update_target", "update_unit"),
                ),
                "description": gettext_lazy(
                    "Minutes and hours run on the calendar's opening hours. On a business-hours "
                    "calendar a day or more is written in business days (1 week = 5 business days, 24 h = 1 "
                    "business day); on a 24x7 calendar a business day is 24 hours."
                ),
            },
        ),
        (gettext_lazy("Must meet"), {"fields": ("response_target_share", "resolution_target_share")}),
    )
    deadline_fields = (
        "priority",
        "calendar",
        *(f"{name}_{part}" for name in SlaPolicy.TARGETS for part in ("target", "unit")),
    )

    @admin.display(description=gettext_lazy("first response"))
    def first_response(self, obj: SlaPolicy) -> str:
        return obj.first_response_text

    @admin.display(description=gettext_lazy("resolution"))
    def resolution(self, obj: SlaPolicy) -> str:
        return obj.resolution_text

    @admin.display(description=gettext_lazy("updates every"))
    def updates_every(self, obj: SlaPolicy) -> str:
        return obj.update_text

    def priorities_for(self, obj: SlaPolicy) -> set[str]:
        return {obj.priority} if obj.priority else set()

    def _posted_priorities(self, request: HttpRequest) -> set[str]:
        priority = request.POST.get("priority", "")
        return {priority} if priority in Ticket.Priority.values else set()


class RescheduleAdmin(SlaConfigAdmin):
    """Tier targets and rules move no response or resolution deadline, but they do move the
    tier deadline and the sweep's next look: reschedule the open tickets of that priority."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)  # forgets the book first
        priorities = {obj.priority}
        if change and form.initial.get("priority") in Ticket.Priority.values:
            priorities.add(form.initial["priority"])  # moved from another priority: reschedule both
        self.usecases.sla_recompute_open(now=timezone.now(), priorities=sorted(priorities))
        self.message_user(
            request,
            gettext("Open %(priorities)s tickets rescheduled.") % {"priorities": ", ".join(sorted(priorities))},
            messages.INFO,
        )


class TierTargetAdmin(RescheduleAdmin):
    list_display = ("tier", "priority", "response_minutes")
    list_filter = ("tier", "priority")


class EscalationRuleAdmin(RescheduleAdmin):
    list_display = ("name", "priority", "condition", "after_minutes", "action", "to_tier", "active")
    list_filter = ("priority", "action", "active")


# --- the engine's history: read-only ----------------------------------------------


class HistoryAdmin(admin.ModelAdmin):
    """Rows the engine writes; the console shows them and never changes them."""

    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Escalation)
class EscalationAdmin(HistoryAdmin):
    list_display = ("at", "ticket", "reason", "rule", "from_tier", "to_tier", "to_management", "actor")
    list_filter = ("reason", "to_management", "to_tier")
    list_select_related = ("ticket", "rule", "actor")
    date_hierarchy = "at"
    ordering = ("-at", "-id")


@admin.register(SlaBreach)
class SlaBreachAdmin(HistoryAdmin):
    # Short cells, the ticket clipped with its whole name in a title, the filters above the table
    # (admin/console_change_list.html): the list fits a 1366 px screen.
    change_list_template = "admin/console_change_list.html"
    list_display = ("breached", "ticket_cell", "kind", "due", "tier", "priority")
    list_filter = ("kind", "priority", "tier")
    list_select_related = ("ticket",)
    date_hierarchy = "breached_at"
    ordering = ("-breached_at", "-id")

    @admin.display(description=_("breached"), ordering="breached_at")
    def breached(self, breach: SlaBreach) -> str:
        return moment_cell(breach.breached_at)

    @admin.display(description=_("due"), ordering="due_at")
    def due(self, breach: SlaBreach) -> str:
        return moment_cell(breach.due_at)

    @admin.display(description=_("ticket"), ordering="ticket__reference")
    def ticket_cell(self, breach: SlaBreach) -> str:
        return clipped(str(breach.ticket))


@admin.register(SlaPause)
class SlaPauseAdmin(HistoryAdmin):
    list_display = ("started_at", "ended_at", "ticket", "reason")
    list_filter = ("reason",)
    list_select_related = ("ticket",)
    ordering = ("-started_at", "-id")


@admin.register(SweepRun)
class SweepRunAdmin(HistoryAdmin):
    list_display = ("name", "last_started_at", "last_finished_at", "examined", "escalated", "breached")
