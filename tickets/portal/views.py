"""The customer portal: thin views that parse a form, make one service or selector call, and redirect.

Every mutation is a POST with CSRF; a DomainError refused by the services
becomes an error message on the page, never a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from sofacover import ratelimit as limits
from sofacover.errors import DomainError
from tickets import selectors, services
from tickets.downloads import attachment_response
from tickets.models import Ticket

from .extensions import (
    SUBJECT_SUGGESTERS,
    subject_suggestions_render,
    ticket_filed_notify,
    ticket_panels_render,
)
from .forms import LoginForm, PortalPasswordResetForm, ReplyForm, SignupForm, TicketForm

TICKETS_PER_PAGE = 20


# --- rate limits: rates are read from settings on every request, so tests can lower them ---


def _rate(name: str):
    return lambda group, request: settings.RATELIMITS[name]


def _limit(name: str, key, group: str):
    return ratelimit(group=group, key=key, rate=_rate(name), method="POST", block=True)


# --- pages ------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/portal/home.html")


@method_decorator(limits.LOGIN.guard("username"), name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login; its get_success_url refuses ?next= to other hosts (url_has_allowed_host_and_scheme)."""

    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django answers GET with 405)."""


class PasswordResetView(auth_views.PasswordResetView):
    """Every accepted request counts on the PASSWORD_RESET door; past the address's mail quota
    the page is the same but no further link is sent."""

    form_class = PortalPasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password-reset-done")
    extra_email_context = {"site_name": "SofaCover Pro Support"}

    def form_valid(self, form: PortalPasswordResetForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        limits.PASSWORD_RESET.enter(self.request, email)
        if not limits.account_mail_allowed(self.request, email):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """A valid sign-up counts on the SIGNUP door (each sends mail); a rejected form costs nothing."""
    if request.user.is_authenticated:
        return redirect("portal:ticket-list")
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        limits.SIGNUP.enter(request, form.cleaned_data["email"])
        form.save(request)
        return redirect("portal:signup-done")
    return render(request, "registration/signup.html", {"form": form})


@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_done.html")


def _user_for_activation(uidb64: str, token: str) -> User | None:
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)), is_staff=False)
    except (TypeError, ValueError, OverflowError, User.DoesNotExist):
        return None
    return user if default_token_generator.check_token(user, token) else None


@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """GET checks the link and shows one button (mail scanners that prefetch links change nothing);
    POST activates the account and signs the customer in."""
    user = _user_for_activation(uidb64, token)
    if user is None:
        return render(request, "registration/activation_invalid.html", status=400)
    if request.method == "GET":
        return render(request, "registration/activation_confirm.html", {"account": user})
    user = services.user_activate(user=user)
    login(request, user, backend="tickets.auth.EmailBackend")
    messages.success(request, "Your account is active. Welcome!")
    return redirect("portal:ticket-list")


@require_GET
@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    tickets = selectors.ticket_list_requested_by(user=request.user)
    page = Paginator(tickets, TICKETS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "tickets/portal/ticket_list.html", {"page": page, "tickets": page.object_list})


# Fields of the ticket form kept when it is re-rendered with suggestions ("Check for answers").
CHECK_ANSWERS = "check_answers"
DRAFT_FIELDS = ("subject", "description", "priority", "category")


@require_http_methods(["GET", "POST"])
@login_required
def ticket_new(request: HttpRequest) -> HttpResponse:
    """File a ticket; "Check for answers" (no JavaScript needed) shows the form again with suggestions."""
    if request.method == "POST" and CHECK_ANSWERS in request.POST and SUBJECT_SUGGESTERS:
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
            ticket = services.ticket_open(
                requester=request.user,
                subject=data["subject"],
                description=data["description"],
                priority=data["priority"],
                category=data["category"],
                channel=Ticket.Channel.PORTAL,
                attachments=data["attachments"],
                now=timezone.now(),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            ticket_filed_notify(request, ticket)
            messages.success(request, f"Thank you. Your ticket {ticket.reference} has been filed.")
            return redirect("portal:ticket-detail", reference=ticket.reference)
    status = 400 if form.errors else 200
    return _render_ticket_form(request, form, subject=request.POST.get("subject", ""), status=status)


def _render_ticket_form(request: HttpRequest, form: TicketForm, *, subject: str, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "suggestions": subject_suggestions_render(request, subject),
        "can_check_answers": bool(SUBJECT_SUGGESTERS),
    }
    return render(request, "tickets/portal/ticket_new.html", context, status=status)


def _render_ticket(request: HttpRequest, ticket: Ticket, reply_form: ReplyForm, status: int = 200) -> HttpResponse:
    context = {
        "ticket": ticket,
        "thread": selectors.message_list_public(user=request.user, ticket=ticket),
        "reply_form": reply_form,
        "can_resolve": ticket.is_active,
        "can_reopen": ticket.status == Ticket.Status.RESOLVED,
        "panels": ticket_panels_render(request, ticket),
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
        services.message_add(
            ticket=ticket,
            author=request.user,
            body=form.cleaned_data["body"],
            internal=False,
            attachments=form.cleaned_data["attachments"],
            now=timezone.now(),
        )
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render_ticket(request, ticket, form, status=exc.http_status)
    messages.success(request, "Your reply has been added.")
    return redirect(reverse("portal:ticket-detail", kwargs={"reference": ticket.reference}) + "#thread-end")


def _change_status(request: HttpRequest, reference: str, service, done: str) -> HttpResponse:
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
    return _change_status(request, reference, services.ticket_resolve, "Glad it is solved. The ticket is resolved.")


@require_POST
@login_required
def ticket_reopen(request: HttpRequest, reference: str) -> HttpResponse:
    return _change_status(request, reference, services.ticket_reopen, "The ticket is open again.")


@require_GET
@login_required
def attachment_download(request: HttpRequest, uuid: str) -> FileResponse:
    attachment = selectors.attachment_get_visible_to(user=request.user, uuid=str(uuid))
    return attachment_response(attachment)
