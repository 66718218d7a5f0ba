"""The one place that turns query parameters into article filters: every key is declared here.

Customers and anonymous visitors may only ask for what they can see: an
``audience`` other than ``public`` or a ``status`` other than ``published`` is
a 400 for them (field-level message), never a silent empty list.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from tickets.models import Ticket

from . import permissions
from .models import Article

AGENT_ONLY = "Only support agents can filter by this value."


class ArticleFilter(django_filters.FilterSet):
    category = django_filters.MultipleChoiceFilter(choices=Ticket.Category.choices)
    audience = django_filters.ChoiceFilter(
        choices=Article.Audience.choices, help_text="`internal` is for agents only (400 for anyone else)."
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Article.Status.choices, help_text="Anything but `published` is for agents only (400 for anyone else)."
    )
    tag = django_filters.CharFilter(method="filter_tag", help_text="A tag slug.")

    class Meta:
        model = Article
        fields: list[str] = []

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user if user is not None else getattr(self.request, "user", None)

    def get_form_class(self) -> type[forms.Form]:
        base = super().get_form_class()
        user = self.user

        class ArticleFilterForm(base):  # type: ignore[misc, valid-type]
            def clean(self) -> dict:
                data = super().clean()
                if "audience" in self.data and not self.data.get("audience"):
                    # An empty choice is not "any": the schema documents public or internal.
                    self.add_error("audience", "Choose public or internal, or leave the parameter out.")
                if user is None or not permissions.can_see_internal(user):
                    if data.get("audience") not in (None, "", Article.Audience.PUBLIC):
                        self.add_error("audience", AGENT_ONLY)
                    if any(value != Article.Status.PUBLISHED for value in data.get("status") or []):
                        self.add_error("status", AGENT_ONLY)
                return data

        return ArticleFilterForm

    def filter_tag(self, queryset: QuerySet[Article], name: str, value: str) -> QuerySet[Article]:
        value = value.strip().lower()
        return queryset.filter(tags__slug=value).distinct() if value else queryset
