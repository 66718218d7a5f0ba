"""The knowledge base's console actions on a ticket (POST only; agents), with the reply from a
template, which is a use case (support.usecases.reply)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.utils import timezone

from knowledge import console
from knowledge import console_urls as knowledge_console_urls
from knowledge import selectors as knowledge_selectors
from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
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
        messages.error(request, "That template or FAQ is no longer available.")
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
    messages.success(request, "Reply sent to the customer.")
    return HttpResponseRedirect(console.console_url(ticket, "thread"))


app_name = knowledge_console_urls.app_name
urlpatterns = [
    *knowledge_console_urls.urlpatterns,
    path("tickets/<str:reference>/template-reply/", template_reply, name="template-reply"),
]
