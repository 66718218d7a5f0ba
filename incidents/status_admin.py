"""The console's pages for the public status page: its components, maintenance windows and email subscribers.

Managers edit components and maintenance (agents may look); every save or delete
drops the status page's snapshot once it commits, so the page shows it at once.
Subscribers come only through the double opt-in: the console lists them, and a
manager may delete one (an erasure request), never add or edit one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts import permissions as roles
from tickets.models import Ticket

from . import status as status_page
from .models import Component, Maintenance, Subscriber


class _ManagersEdit(admin.ModelAdmin):
    """Agents see the page; managers and admins change it. Any change refreshes the status page."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return roles.is_agent(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_agent(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return roles.is_manager(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_manager(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_manager(request.user)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # after save_model: the components are set
        status_page.snapshot_forget()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        status_page.snapshot_forget()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        super().delete_queryset(request, queryset)
        status_page.snapshot_forget()


class ComponentForm(forms.ModelForm):
    ticket_categories = forms.MultipleChoiceField(
        choices=Ticket.Category.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "While an incident affecting this component is open, new tickets of these categories "
            "are suggested for linking to it."
        ),
    )

    class Meta:
        model = Component
        fields = ("name", "slug", "description", "position", "public", "ticket_categories")


@admin.register(Component)
class ComponentAdmin(_ManagersEdit):
    form = ComponentForm
    list_display = ("name", "slug", "position", "public")
    list_editable = ("position", "public")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "slug")
    ordering = ("position", "name")

    def save_model(self, request: HttpRequest, obj: Component, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        status_page.snapshot_forget()  # list_editable saves go through here, without save_related


class MaintenanceForm(forms.ModelForm):
    class Meta:
        model = Maintenance
        fields = ("title", "description", "components", "starts_at", "ends_at", "cancelled")
        help_texts = {
            "description": gettext_lazy("Public: shown on the status page and in its feed."),
            "cancelled": gettext_lazy("A cancelled window leaves the status page."),
        }

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        starts_at, ends_at = self.cleaned_data.get("starts_at"), self.cleaned_data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "The window must end after it starts.")
        return data


@admin.register(Maintenance)
class MaintenanceAdmin(_ManagersEdit):
    form = MaintenanceForm
    list_display = ("title", "starts_at", "ends_at", "cancelled", "created_at")
    list_filter = ("cancelled",)
    search_fields = ("title",)
    date_hierarchy = "starts_at"
    filter_horizontal = ("components",)
    ordering = ("-starts_at",)

    def save_model(self, request: HttpRequest, obj: Maintenance, form: Any, change: bool) -> None:
        if obj.pk is None:
            obj.created_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(Subscriber)
class SubscriberAdmin(_ManagersEdit):
    list_display = ("email", "created_at", "confirmed_at", "unsubscribed_at", "active")
    list_filter = (("confirmed_at", admin.EmptyFieldListFilter), ("unsubscribed_at", admin.EmptyFieldListFilter))
    search_fields = ("email",)
    fields = ("email", "created_at", "confirmed_at", "unsubscribed_at")
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_manager(request.user)  # people's addresses: the managers'

    @admin.display(boolean=True, description=gettext_lazy("Gets updates"))
    def active(self, obj: Subscriber) -> bool:
        return obj.active

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
