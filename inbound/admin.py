"""The console's view of the gateway: every message received and what became of it, and the
addresses that bounced (an admin clears one, and mail goes to it again). Read-only but for that."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy, ngettext

from . import services
from .models import InboundMail, MailAddress


@admin.register(InboundMail)
class InboundMailAdmin(admin.ModelAdmin):
    list_display = ("received_at", "sender", "subject", "outcome", "ticket", "door", "size")
    list_filter = ("outcome", "door")
    search_fields = ("sender", "subject", "message_id")
    list_select_related = ("ticket",)
    date_hierarchy = "received_at"
    readonly_fields = [field.name for field in InboundMail._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: InboundMail | None = None) -> bool:
        return False


@admin.register(MailAddress)
class MailAddressAdmin(admin.ModelAdmin):
    list_display = ("address", "undeliverable_at", "bounce_status", "bounce_reason")
    list_filter = (("undeliverable_at", admin.EmptyFieldListFilter),)
    search_fields = ("address",)
    readonly_fields = ("address", "undeliverable_at", "bounce_status", "bounce_reason")
    actions = ["mark_deliverable"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=gettext_lazy("Deliverable again: send mail to these addresses"), permissions=["change"])
    def mark_deliverable(self, request: HttpRequest, queryset: QuerySet[MailAddress]) -> None:
        for row in queryset:
            services.address_mark_deliverable(address=row.address)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)d address will get mail again.", "%(count)d addresses will get mail again.", count)
            % {"count": count},
            messages.SUCCESS,
        )
