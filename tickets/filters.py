"""The one place that turns query parameters into ticket filters: every key is declared here."""

from __future__ import annotations

import re
from datetime import UTC

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField

from .models import Ticket


class StrictIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time; a parameter sent empty is an error, not "no filter"."""

    def to_python(self, value):
        if value == "":
            raise forms.ValidationError("Enter an ISO 8601 date and time.", code="invalid")
        parsed = super().to_python(value)
        if parsed is None:
            return None
        # Any offset Python accepts (up to ±24 h) becomes UTC, which every database stores.
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError("That date is out of range.", code="invalid") from exc


class StrictIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = StrictIsoDateTimeField


class TicketFilter(django_filters.FilterSet):
    priority = django_filters.MultipleChoiceFilter(choices=Ticket.Priority.choices)
    status = django_filters.MultipleChoiceFilter(choices=Ticket.Status.choices)
    tier = django_filters.MultipleChoiceFilter(choices=Ticket.Tier.choices)
    category = django_filters.MultipleChoiceFilter(choices=Ticket.Category.choices)
    channel = django_filters.MultipleChoiceFilter(choices=Ticket.Channel.choices)
    assignee = django_filters.CharFilter(
        method="filter_assignee",
        help_text="An agent's email address, `me`, or `none` for unassigned tickets.",
    )
    created_after = StrictIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = StrictIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    search = django_filters.CharFilter(
        method="filter_search", help_text="Reference, subject or requester email (case-insensitive)."
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_assignee(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = value.strip().lower()
        if value in {"none", "unassigned"}:
            return queryset.filter(assignee__isnull=True)
        if value == "me":
            user = getattr(self.request, "user", None)
            return queryset.filter(assignee=user) if user and user.is_authenticated else queryset.none()
        return queryset.filter(assignee__username=value)

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return search_tickets(queryset, value)


# A ticket's number: ASCII digits only. str.isdigit() also accepts "²" or "①", which int() refuses.
TICKET_NUMBER = re.compile(r"[0-9]{1,12}")


def search_tickets(queryset: QuerySet[Ticket], value: str) -> QuerySet[Ticket]:
    """Subject or requester email containing ``value``; a reference (SCP-000042) or number (42) too.

    The one search of the API's ``search`` filter and the console's search box.
    """
    value = value.strip()[:200]
    if not value:
        return queryset
    condition = Q(subject__icontains=value) | Q(requester__username__icontains=value)
    reference = value.upper()
    if reference.startswith("SCP-"):
        condition |= Q(reference=reference)
    elif TICKET_NUMBER.fullmatch(reference):
        condition |= Q(pk=int(reference))
    return queryset.filter(condition)
