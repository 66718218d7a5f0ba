"""The customer portal's home, ticket list and downloads (the ticket pages, which span the apps,
are in support.portal; the account pages in accounts.portal): thin views that make one selector
call and render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from accounts import selectors as accounts
from tickets import selectors
from tickets.downloads import attachment_response
from tickets.portal.forms import PortalTicketFilterForm

TICKETS_PER_PAGE = 20


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/portal/home.html")


@require_GET
@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    """My tickets, narrowed by the filter form (GET); a value that is not a choice is a 400 with the form's errors."""
    context, status = _filtered_page(request, selectors.ticket_list_requested_by)
    context["organisation_shared"] = bool(accounts.shared_organisation_member_ids(user=request.user))
    return render(request, "tickets/portal/ticket_list.html", context, status=status)


def _filtered_page(request: HttpRequest, ticket_list: Callable[..., Any]) -> tuple[dict[str, Any], int]:
    """A page of ``ticket_list(user=, filters=)`` narrowed by the filter form (GET), the form, and the status:
    400 when a value is not a choice (the form shows its errors; the list is unfiltered)."""
    form = PortalTicketFilterForm(request.GET)
    valid = form.is_valid()
    filters = form.cleaned_data if valid else {}
    page = Paginator(ticket_list(user=request.user, filters=filters), TICKETS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "tickets": page.object_list,
        "filter_form": form,
        "filtered": any(filters.values()),
        "query": query.urlencode(),
    }
    return context, 200 if valid else 400


@require_GET
@login_required
def organisation_ticket_list(request: HttpRequest) -> HttpResponse:
    """My organisation's tickets (read-only), when a manager opted the organisation in; 404 otherwise."""
    if not accounts.shared_organisation_member_ids(user=request.user):
        raise Http404(gettext("No shared organisation."))
    context, status = _filtered_page(request, selectors.ticket_list_of_organisation)
    return render(request, "tickets/portal/organisation_list.html", context, status=status)


@require_GET
@login_required
def organisation_ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """A colleague's ticket, read-only: the facts and the public conversation, no forms, no attachments."""
    ticket = selectors.ticket_get_of_organisation(user=request.user, reference=reference)
    thread = selectors.message_list_of_organisation(ticket=ticket)
    return render(request, "tickets/portal/organisation_ticket.html", {"ticket": ticket, "thread": thread})


@require_GET
@login_required
def attachment_download(request: HttpRequest, uuid: str) -> FileResponse:
    attachment = selectors.attachment_get_visible_to(user=request.user, uuid=str(uuid))
    return attachment_response(attachment)
