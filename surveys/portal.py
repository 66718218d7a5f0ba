"""Satisfaction in the portal: the rating form and the ticket page's rating prompt.

The views that rate (the ticket page's form, the emailed survey link) run use cases, so
they are doors in support.portal.survey.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket

from . import selectors, services

SCORES = [(5, "5 (excellent)"), (4, "4 (good)"), (3, "3 (okay)"), (2, "2 (poor)"), (1, "1 (very poor)")]


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with the support you got?"),
        choices=SCORES,
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def rating_panel(request: HttpRequest, ticket: Ticket) -> str | None:
    """A panel of the ticket page (support.portal.views): the rating prompt for a resolved ticket's requester."""
    if request.user.pk != ticket.requester_id or ticket.status not in services.RATED_STATUSES:
        return None
    rating = selectors.rating_of(ticket=ticket)
    can_change = rating is None or services.rating_can_change(rating, now=timezone.now())
    initial = {"score": rating.score, "comment": rating.comment} if rating else None
    return render_to_string(
        "surveys/portal/_rating_panel.html",
        {"ticket": ticket, "rating": rating, "can_change": can_change, "form": RatingForm(initial=initial)},
        request=request,
    )
