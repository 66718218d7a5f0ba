"""The frameworks' own floor: Django's stock admin and DRF's stock create on the same tickets, no code of ours.

``bench``'s targets for the queue (≤ 15 ms) and the ticket page (≤ 12 ms) are absolute; what a machine can do
is not. These rows measure, in the same process and on the same desk, what Django and DRF cost before any of
the desk's work: a stock ``ModelAdmin`` of ``Ticket`` with the queue's columns and filters as plain fields
(its changelist counts every ticket, as Django's does), a stock change form of the ticket page's fields, and a
stock ``CreateAPIView`` that saves a ``ModelSerializer`` (no use case: no timeline, clocks, acknowledgment or
reports). The admin's pages render with Django's own templates only (``TEMPLATES`` below), so none of the
desk's templates or context is timed either. Used only by the bench, as ``ROOT_URLCONF`` while it measures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import django.contrib.admin
from django.contrib import admin
from django.urls import path
from django.utils import timezone
from rest_framework import generics, serializers

from tickets.models import Ticket

QUEUE_COLUMNS = (
    "reference",
    "subject",
    "priority",
    "status",
    "tier",
    "assignee",
    "requester",
    "created_at",
    "first_response_due_at",
    "resolution_due_at",
)
PAGE_FIELDS = (
    "reference",
    "subject",
    "priority",
    "status",
    "tier",
    "category",
    "assignee",
    "resolution_note",
    "requester",
    "created_at",
)

# Django's admin templates and nothing else (the desk's apps override several of them).
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [str(Path(django.contrib.admin.__file__).parent / "templates")],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

site = admin.AdminSite(name="stock")


class StockTicketAdmin(admin.ModelAdmin):
    list_display = QUEUE_COLUMNS
    list_filter = ("priority", "status", "tier", "category", "channel")
    search_fields = ("reference",)
    list_select_related = ("requester", "assignee")
    list_per_page = 25
    ordering = ("-id",)
    fields = PAGE_FIELDS
    readonly_fields = ("reference", "requester", "created_at")
    raw_id_fields = ("assignee",)

    # Whoever the bench signs in as (a staff agent) sees and edits everything: no permission lookups of ours.
    def has_module_permission(self, request: Any) -> bool:
        return True

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return True

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return True


site.register(Ticket, StockTicketAdmin)


class StockTicketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Ticket
        fields = ("id", "subject", "description", "priority", "category")


class StockTicketCreate(generics.CreateAPIView):
    """The project's authentication, permission and throttle defaults; the ticket saved as given."""

    serializer_class = StockTicketSerializer

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        now = timezone.now()
        serializer.save(requester=self.request.user, created_at=now, updated_at=now)


urlpatterns = [
    path("stock/admin/", site.urls),
    path("stock/api/tickets/", StockTicketCreate.as_view()),
]
