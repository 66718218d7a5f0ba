"""Satisfaction in the portal: the emailed survey link and the rating form of the ticket page.

The link is a capability (AC-9): signed, expiring, single-use, and it only ever
shows the ticket it was made for. GET shows the form and changes nothing (mail
scanners prefetch links); POST rates and spends the link.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
from support import usecases
from surveys import services
from surveys.portal import RatingForm
from tickets import selectors

THANKS_NEW = gettext_lazy("Thank you for your rating.")
THANKS_CHANGED = gettext_lazy("Your rating has been updated.")
ERROR_PAGES = {
    services.SurveyLinkInvalid: (
        gettext_lazy("Link not valid"),
        gettext_lazy("This survey link is not valid. Please use the link from our email."),
    ),
    services.SurveyLinkExpired: (
        gettext_lazy("Link expired"),
        gettext_lazy(
            "This survey link has expired. You can still rate the ticket from your ticket page when you log in."
        ),
    ),
    services.SurveyLinkUsed: (
        gettext_lazy("Already answered"),
        gettext_lazy(
            "Thank you, this survey has already been answered. You can change your rating from your ticket page "
            "within 7 days."
        ),
    ),
}


def _link_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    title, text = ERROR_PAGES.get(type(exc), (gettext_lazy("Cannot rate"), exc.message))
    return render(request, "surveys/portal/survey_error.html", {"title": title, "text": text}, status=exc.http_status)


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    try:
        link = services.survey_link_open(token=token, now=now)
    except (services.SurveyLinkInvalid, services.SurveyLinkExpired, services.SurveyLinkUsed) as exc:
        return _link_error(request, exc)
    form = RatingForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            usecases.rate_by_link(
                token=token, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"], now=now
            )
        except (services.SurveyLinkInvalid, services.SurveyLinkExpired, services.SurveyLinkUsed) as exc:
            return _link_error(request, exc)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return render(request, "surveys/portal/survey_thanks.html", {"ticket": link.ticket})
    status = 400 if form.errors else 200
    return render(request, "surveys/portal/survey.html", {"ticket": link.ticket, "form": form}, status=status)


@require_POST
@login_required
def ticket_rate(request: HttpRequest, reference: str) -> HttpResponse:
    """The rating form on the customer's ticket page."""
    ticket = selectors.ticket_get_visible_to(user=request.user, reference=reference)
    form = RatingForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext_lazy("Choose a score from 1 to 5."))
    else:
        try:
            _, created = usecases.rate(
                ticket=ticket,
                actor=signed_in_user(request),
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                now=timezone.now(),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext_lazy("Thank you for your rating.")
                if created
                else gettext_lazy("Your rating has been updated."),
            )
    return redirect("portal:ticket-detail", reference=ticket.reference)
