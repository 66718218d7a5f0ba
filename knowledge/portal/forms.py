"""Forms of the help centre: they parse input only; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket

from ..services import MAX_COMMENT

MAX_QUERY = 200


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search the help centre"), max_length=MAX_QUERY, required=False)
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", _("All categories")), *Ticket.Category.choices]
    )


class VoteForm(forms.Form):
    helpful = forms.TypedChoiceField(
        label=_("Was this article helpful?"),
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything we could add or explain better?"),
        required=False,
        max_length=MAX_COMMENT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SuggestionOpenForm(forms.Form):
    """The subject the customer was typing when they opened a suggestion (kept with the open)."""

    q = forms.CharField(max_length=MAX_QUERY, required=False)
