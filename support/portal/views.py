"""The customer's ticket pages, composed from the apps: filing (with the open public incidents'
notice and the knowledge base's suggestions), the ticket page (with the SLA and rating panels),
reply, resolve, reopen and ask to escalate. Thin views: parse a form, call one use case, redirect.

Every mutation is a POST with CSRF; a DomainError refused by the use case
becomes an error message on the page, never a 500.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from escalation import portal as escalation_portal
from escalation.models import Escalation
from incidents import portal as incident_portal
from knowledge.portal import views as knowledge_portal
from sofacover import ratelimit as limits
from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
from support import usecases
from surveys import portal as survey_portal
from tickets import permissions as ticket_permissions
from tickets import selectors
from tickets.models import Ticket
from tickets.portal.forms import ReplyForm, TicketForm

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# --- rate limits: rates are read from settings on every request, so tests can lower them ---


def _rate(name: str):
    return lambda group, request: settings.RATELIMITS[name]


def _limit(name: str, key, group: str):
    return ratelimit(group=group, key=key, rate=_rate(name), method="POST", block=True)


# Fields of the ticket form kept when it is re-rendered with suggestions ("Check for answers").
CHECK_ANSWERS = "check_answers"
DRAFT_FIELDS = ("subject", "description", "priority", "category")


@require_http_methods(["GET", "POST"])
@login_required
def ticket_new(request: HttpRequest) -> HttpResponse:
    """File a ticket; "Check for answers" (no JavaScript needed) shows the form again with suggestions."""
    if request.method == "POST" and CHECK_ANSWERS in request.POST:
        draft = TicketForm(initial={name: request.POST.get(name) for name in DRAFT_FIELDS if name in request.POST})
        return _render_ticket_form(request, draft, subject=request.POST.get("subject", ""))
    return _ticket_file(request)


@_limit("ticket_ip", "ip", "portal.ticket-new")
@_limit("ticket_account", "user", "portal.ticket-new")
def _ticket_file(request: HttpRequest) -> HttpResponse:
    form = TicketForm(request.POST, request.FILES) if request.method == "POST" else TicketForm()
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = usecases.file_ticket(
                requester=signed_in_user(request),
                subject=data["subject"],
                description=data["description"],
                priority=data["priority"],
                category=data["category"],
                channel=Ticket.Channel.PORTAL,
                attachments=data["attachments"],
                visitor_keys=knowledge_portal.visitor_keys_of(request),
                now=timezone.now(),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            knowledge_portal.visitor_keys_forget(request)
            messages.success(
                request, _("Thank you. Your ticket %(reference)s has been filed.") % {"reference": ticket.reference}
            )
            return redirect("portal:ticket-detail", reference=ticket.reference)
    status = 400 if form.errors else 200
    return _render_ticket_form(request, form, subject=request.POST.get("subject", ""), status=status)


def _render_ticket_form(request: HttpRequest, form: TicketForm, *, subject: str, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        # Open public incidents: the customer may be about to report one (title, status, components only).
        "notices": [html for html in (incident_portal.filing_notice(request),) if html],
        # The knowledge base suggests answers for the subject being typed (deflection).
        "suggestions": [knowledge_portal.suggestions_render(request, subject)],
        "can_check_answers": True,
    }
    return render(request, "tickets/portal/ticket_new.html", context, status=status)


def ticket_panels(request: HttpRequest, ticket: Ticket) -> list[str]:
    """The ticket page's sections below the facts, in order: the SLA promise and "ask to escalate"
    (escalation), then the rating prompt (surveys). Each returns HTML or None."""
    panels = (
        escalation_portal.ticket_sla_panel(request, ticket),
        survey_portal.rating_panel(request, ticket),
    )
    return [html for html in panels if html]


def _render_ticket(
    request: HttpRequest, ticket: Ticket, reply_form: ReplyForm, status: int = 200, resolve_error: str = ""
) -> HttpResponse:
    context = {
        "ticket": ticket,
        "thread": selectors.message_list_public(user=request.user, ticket=ticket),
        "reply_form": reply_form,
        "can_resolve": ticket.is_active,
        # An agent resolving here says how, for the customer (required on a P0/P1).
        "resolve_with_note": ticket_permissions.can_work_ticket(request.user),
        "resolve_error": resolve_error,
        "resolution_note": request.POST.get("resolution_note", "") if request.method == "POST" else "",
        "can_reopen": ticket.status == Ticket.Status.RESOLVED,
        "panels": ticket_panels(request, ticket),
    }
    return render(request, "tickets/portal/ticket_detail.html", context, status=status)


@require_GET
@login_required
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_get_visible_to(user=request.user, reference=reference)
    return _render_ticket(request, ticket, ReplyForm())


@require_POST
@login_required
@limits.customer_replies
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_get_visible_to(user=request.user, reference=reference)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_ticket(request, ticket, form, status=400)
    try:
        usecases.reply(
            ticket=ticket,
            author=signed_in_user(request),
            body=form.cleaned_data["body"],
            internal=False,
            attachments=form.cleaned_data["attachments"],
            now=timezone.now(),
        )
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render_ticket(request, ticket, form, status=exc.http_status)
    messages.success(request, _("Your reply has been added."))
    return redirect(reverse("portal:ticket-detail", kwargs={"reference": ticket.reference}) + "#thread-end")


def _change_status(request: HttpRequest, reference: str, service, done: StrOrPromise) -> HttpResponse:
    ticket = selectors.ticket_get_visible_to(user=request.user, reference=reference)
    try:
        service(ticket=ticket, actor=request.user, now=timezone.now())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("portal:ticket-detail", reference=ticket.reference)


@require_POST
@login_required
def ticket_resolve(request: HttpRequest, reference: str) -> HttpResponse:
    """The requester marks their ticket solved; an agent resolves it with a note for the customer.

    A refusal about the note (a P0/P1 without one) shows the page again, 400, with the note field's message.
    """
    actor = cast(User, request.user)  # signed in (login_required)
    ticket = selectors.ticket_get_visible_to(user=actor, reference=reference)
    note = request.POST.get("resolution_note", "")[:5000]
    try:
        usecases.resolve(ticket=ticket, actor=actor, now=timezone.now(), resolution_note=note)
    except DomainError as exc:
        if exc.field == "resolution_note":
            return _render_ticket(request, ticket, ReplyForm(), status=exc.http_status, resolve_error=exc.message)
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Glad it is solved. The ticket is resolved."))
    return redirect("portal:ticket-detail", reference=ticket.reference)


@require_POST
@login_required
def ticket_reopen(request: HttpRequest, reference: str) -> HttpResponse:
    return _change_status(request, reference, usecases.reopen, _("The ticket is open again."))


@require_POST
@login_required
def ticket_escalate(request: HttpRequest, reference: str) -> HttpResponse:
    """The customer asks for an escalation of their ticket."""
    ticket = selectors.ticket_get_visible_to(user=request.user, reference=reference)
    form = escalation_portal.AskToEscalateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("We could not read that request. Please try again from the ticket page."))
    else:
        try:
            usecases.escalate(
                ticket=ticket,
                actor=signed_in_user(request),
                reason=Escalation.Reason.CUSTOMER_REQUEST,
                note=form.cleaned_data["note"],
                now=timezone.now(),
                from_tier=form.cleaned_data["tier"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Thank you. We have asked a more senior team to look at your ticket."))
    return redirect("portal:ticket-detail", reference=ticket.reference)
