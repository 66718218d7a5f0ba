"""The customer portal's home, ticket list and downloads (the ticket pages, which span the apps,
are in support.portal; the account pages in accounts.portal): thin views that make one selector
call and render.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tickets import selectors
from tickets.downloads import attachment_response

TICKETS_PER_PAGE = 20


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/portal/home.html")


@require_GET
@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    tickets = selectors.ticket_list_requested_by(user=request.user)
    page = Paginator(tickets, TICKETS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "tickets/portal/ticket_list.html", {"page": page, "tickets": page.object_list})


@require_GET
@login_required
def attachment_download(request: HttpRequest, uuid: str) -> FileResponse:
    attachment = selectors.attachment_get_visible_to(user=request.user, uuid=str(uuid))
    return attachment_response(attachment)
