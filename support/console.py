"""The console's actions on a ticket that go through use cases (POST only; agents): the reply from
a knowledge-base template (support.usecases.reply), and who is copied on the ticket's replies
(support.usecases.cc_add / cc_remove, with their panel on the ticket page); served with the
knowledge base's own actions."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from knowledge import console
from knowledge import console_urls as knowledge_console_urls
from knowledge import selectors as knowledge_selectors
from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
from tickets import permissions as ticket_permissions
from tickets import selectors as ticket_selectors
from tickets.models import Ticket

from . import usecases


@console.console_action(console.TEMPLATE_PERMS)
def template_reply(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    """Send a public reply made from a response template and/or an FAQ link and the agent's words."""
    template_slug = request.POST.get("template", "").strip()
    faq_slug = request.POST.get("faq", "").strip()
    try:
        template = knowledge_selectors.response_template_get(slug=template_slug) if template_slug else None
        faq = (
            knowledge_selectors.article_get_visible_to(user=console.public_viewer(), slug=faq_slug)
            if faq_slug
            else None
        )
    except Http404:
        messages.error(request, gettext("That template or FAQ is no longer available."))
        return HttpResponseRedirect(console.console_url(ticket, "kb-reply"))
    form = console.TemplateReplyForm(request.POST, templates=[template] if template else [], faqs=[faq] if faq else [])
    if not form.is_valid():
        console.form_refused(request, form)
        return HttpResponseRedirect(console.console_url(ticket, "kb-reply"))
    try:
        usecases.reply(
            ticket=ticket,
            author=signed_in_user(request),
            body=console.compose_reply(ticket=ticket, template=template, body=form.cleaned_data["body"], faq=faq),
            now=timezone.now(),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(console.console_url(ticket, "kb-reply"))
    messages.success(request, gettext("Reply sent to the customer."))
    return HttpResponseRedirect(console.console_url(ticket, "thread"))


# --- who is copied on the replies ------------------------------------------------------------


def cc_panel(request: HttpRequest, ticket: Ticket) -> SafeString | None:
    """One of the ticket page's panels (support.admin): the CC list, with add and remove for whoever
    may change the ticket. Agents only; None for anyone else."""
    if not ticket_permissions.can_work_ticket(request.user):
        return None
    can_change = ticket.status != Ticket.Status.CLOSED and ticket_permissions.can_change_ticket(request.user, ticket)
    context = {"ticket": ticket, "ccs": list(ticket_selectors.cc_list(ticket=ticket)), "can_change": can_change}
    return render_to_string("support/console/cc_panel.html", context, request=request)


class CcForm(forms.Form):
    email = forms.EmailField(label=pgettext_lazy("copy on replies", "Copy"), max_length=254)


def _cc_action(request: HttpRequest, reference: str, change, done: str | Promise) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not ticket_permissions.can_work_ticket(request.user):
        raise PermissionDenied
    ticket = ticket_selectors.ticket_get_visible_to(user=request.user, reference=reference)
    form = CcForm(request.POST)
    if not form.is_valid():
        console.form_refused(request, form)
        return HttpResponseRedirect(console.console_url(ticket, "cc"))
    email = form.cleaned_data["email"]
    try:
        change(ticket=ticket, email=email, actor=request.user, now=timezone.now())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, str(done).format(email=email))
    return HttpResponseRedirect(console.console_url(ticket, "cc"))


@require_POST
def cc_add(request: HttpRequest, reference: str) -> HttpResponse:
    return _cc_action(request, reference, usecases.cc_add, gettext_lazy("{email} now gets the public replies."))


@require_POST
def cc_remove(request: HttpRequest, reference: str) -> HttpResponse:
    return _cc_action(request, reference, usecases.cc_remove, gettext_lazy("{email} no longer gets the replies."))


app_name = knowledge_console_urls.app_name
urlpatterns = [
    *knowledge_console_urls.urlpatterns,
    path("tickets/<str:reference>/template-reply/", template_reply, name="template-reply"),
    path("tickets/<str:reference>/cc/add/", cc_add, name="cc-add"),
    path("tickets/<str:reference>/cc/remove/", cc_remove, name="cc-remove"),
]
