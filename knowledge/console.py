"""The knowledge base in the agent console: a panel on the ticket page and the actions it posts to.

The panel (one of support.admin's ticket page panels) shows agents the
runbooks for the ticket's category, the runbooks attached to the ticket with
their steps, the top search hits for its subject, a reply-from-template form
and public FAQ links to put in a reply. It renders nothing for anyone who is
not an agent.

The actions live at /console/tickets/<reference>/... (knowledge/console_urls.py):
POST only, CSRF-checked by the middleware, signed-in agents with the tickets
and knowledge permissions; each parses its form, makes one service call and
goes back to the ticket's console page. Ticks and attachments are written to
the ticket timeline by the knowledge services.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from sofacover.auth import signed_in_user
from sofacover.errors import DomainError
from tickets import selectors as ticket_selectors
from tickets.models import Ticket

from . import permissions, search, selectors, services
from .models import Article, ResponseTemplate

SUBJECT_HITS = 5
FAQ_CHOICES = 10
RUNBOOK_PERMS = ("tickets.work_ticket", "knowledge.view_article")
TEMPLATE_PERMS = ("tickets.work_ticket", "knowledge.view_responsetemplate")
_MARKDOWN_LINK_TEXT = re.compile(r"([\[\]\\])")
# What the panel shows from the knowledge base that is the same for every agent and every ticket
# with that category (or subject) is kept this long in the cache: a published or edited article or
# template reaches the ticket pages within that time.
PANEL_CACHE_SECONDS = 60


def _may(user: User | AnonymousUser, perms: tuple[str, ...]) -> bool:
    return permissions.can_work_runbooks(user) and user.has_perms(perms)


def faq_url(article: Article) -> str:
    """The public address of an FAQ, for a reply the customer reads in their mail or the portal."""
    return settings.DESK_BASE_URL.rstrip("/") + reverse("kb:article", kwargs={"slug": article.slug})


def faq_link_markdown(article: Article) -> str:
    """``[title](url)``: the title's brackets escaped so it stays one link."""
    title = _MARKDOWN_LINK_TEXT.sub(r"\\\1", article.title)
    return f"[{title}]({faq_url(article)})"


def public_viewer() -> AnonymousUser:
    """Who a customer is, for the selectors: FAQ links must be articles every customer may open."""
    return AnonymousUser()


def console_url(ticket: Ticket, anchor: str = "") -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk]) + (f"#{anchor}" if anchor else "")


# --- the panel -----------------------------------------------------------------------------


def console_panel(request: HttpRequest, ticket: Ticket) -> SafeString | None:
    """One of support.admin's ticket page panels: the knowledge section of the ticket page (agents only)."""
    user = request.user
    if not _may(user, RUNBOOK_PERMS):
        return None
    attached = selectors.runbook_list_attached(ticket=ticket)
    attached_ids = {item.ticket_runbook.article_id for item in attached}
    can_act = ticket.status != Ticket.Status.CLOSED
    shared = _panel_reads(user, ticket, with_templates=can_act and _may(user, TEMPLATE_PERMS))
    hits: list[search.SearchResult] = shared["hits"]
    for_category: selectors.CategoryArticles = shared["category"]
    templates: list[ResponseTemplate] = shared.get("templates", [])
    faqs = [hit.article for hit in hits if hit.article.is_public]
    known = {article.pk for article in faqs}
    for article in for_category.faqs:
        if article.pk not in known and len(faqs) < FAQ_CHOICES:
            faqs.append(article)
            known.add(article.pk)
    context = {
        "ticket": ticket,
        "can_act": can_act,
        "attached": attached,
        "category_runbooks": [
            {"article": article, "attached": article.pk in attached_ids} for article in for_category.runbooks
        ],
        "category_label": ticket.get_category_display(),
        "hits": hits,
        "faqs": [
            {"article": article, "url": faq_url(article), "markdown": faq_link_markdown(article)} for article in faqs
        ],
        "templates": templates,
        "reply_form": TemplateReplyForm(templates=templates, faqs=faqs) if templates or faqs else None,
    }
    return render_to_string("knowledge/console/panel.html", context, request=request)


def _panel_reads(user: User | AnonymousUser, ticket: Ticket, *, with_templates: bool) -> dict[str, Any]:
    """The subject's hits, the category's FAQs and runbooks and (``with_templates``) its reply templates.

    Agents all see the same articles and templates, so these come from the cache (one round trip)
    and are read from the database, and kept for PANEL_CACHE_SECONDS, only when missing.
    """
    subject = hashlib.sha256(ticket.subject.encode()).hexdigest()
    keys = {
        "hits": f"kb-console:hits:{SUBJECT_HITS}:{subject}",
        "category": f"kb-console:category:{FAQ_CHOICES}:{ticket.category}",
    }
    if with_templates:
        keys["templates"] = f"kb-console:templates:{ticket.category}"
    found = cache.get_many(keys.values())
    reads = {name: found[key] for name, key in keys.items() if key in found}
    missing = {name: key for name, key in keys.items() if name not in reads}
    if "hits" in missing:
        published = selectors.article_list_published_to(user=user)
        reads["hits"] = list(search.search_within(published, ticket.subject, limit=SUBJECT_HITS, match="any"))
    if "category" in missing:
        reads["category"] = selectors.article_list_for_category(category=ticket.category, faq_limit=FAQ_CHOICES)
    if "templates" in missing:
        reads["templates"] = list(selectors.response_template_list(category=ticket.category))
    if missing:
        cache.set_many({key: reads[name] for name, key in missing.items()}, PANEL_CACHE_SECONDS)
    return reads


# --- the actions -----------------------------------------------------------------------------


def console_action(perms: tuple[str, ...]) -> Callable:
    """POST only; signed-in agents with ``perms`` (others: login or 403); the ticket by reference or 404."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @require_POST
        @wraps(view)
        def wrapped(request: HttpRequest, reference: str, **kwargs: object) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not _may(request.user, perms):
                raise PermissionDenied
            ticket = ticket_selectors.ticket_get_visible_to(user=request.user, reference=reference)
            return view(request, ticket, **kwargs)

        return wrapped

    return decorator


class AttachForm(forms.Form):
    article = forms.SlugField(max_length=220)


class StepForm(forms.Form):
    done = forms.TypedChoiceField(choices=[("1", "tick"), ("0", "untick")], coerce=lambda value: value == "1")


class TemplateReplyForm(forms.Form):
    template = forms.ChoiceField(label=gettext_lazy("Template"), required=False)
    faq = forms.ChoiceField(label=gettext_lazy("Link an FAQ"), required=False)
    body = forms.CharField(
        label=gettext_lazy("Your words (after the template)"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )

    def __init__(self, *args, templates=(), faqs=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["template"]).choices = [
            ("", "— none —"),
            *((t.slug, t.name) for t in templates),
        ]
        cast(forms.ChoiceField, self.fields["faq"]).choices = [("", "— none —"), *((a.slug, a.title) for a in faqs)]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if not self.errors and not (data.get("template") or data.get("faq") or (data.get("body") or "").strip()):
            raise forms.ValidationError(gettext("Pick a template, an FAQ link or write a message."), code="empty")
        return data


def form_refused(request: HttpRequest, form: forms.Form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))  # (an ErrorList yields strings)


@console_action(RUNBOOK_PERMS)
def runbook_attach(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    form = AttachForm(request.POST)
    if not form.is_valid():
        form_refused(request, form)
        return HttpResponseRedirect(console_url(ticket, "kb-runbooks"))
    article = selectors.article_get_visible_to(user=request.user, slug=form.cleaned_data["article"])
    try:
        services.runbook_attach(ticket=ticket, article=article, actor=signed_in_user(request), now=timezone.now())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("Runbook attached: %(title)s.") % {"title": article.title})
    return HttpResponseRedirect(console_url(ticket, "kb-runbooks"))


@console_action(RUNBOOK_PERMS)
def runbook_step(request: HttpRequest, ticket: Ticket, runbook: int, step: int) -> HttpResponse:
    form = StepForm(request.POST)
    if not form.is_valid():
        form_refused(request, form)
        return HttpResponseRedirect(console_url(ticket, "kb-runbooks"))
    ticket_runbook = selectors.ticket_runbook_get(ticket=ticket, pk=runbook)
    service = services.runbook_step_tick if form.cleaned_data["done"] else services.runbook_step_untick
    try:
        service(ticket_runbook=ticket_runbook, step=step, actor=signed_in_user(request), now=timezone.now())
    except DomainError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(console_url(ticket, f"kb-runbook-{ticket_runbook.pk}"))


def compose_reply(*, ticket: Ticket, template: ResponseTemplate | None, body: str, faq: Article | None) -> str:
    """The reply's markdown: the template rendered for the ticket, the agent's words, then the FAQ link."""
    parts = []
    if template is not None:
        parts.append(services.template_render(template=template, ticket=ticket).strip())
    if body.strip():
        parts.append(body.strip())
    if faq is not None:
        parts.append(f"This article may help: {faq_link_markdown(faq)}")
    return "\n\n".join(parts)


# --- the API's template field ------------------------------------------------------------------


def render_template_for_message(ticket: Ticket, slug: str, user: User) -> str | None:
    """tickets.api MESSAGE_TEMPLATE_RENDERER: the template rendered for ``ticket``; None for no such template.

    :raises NotAllowed: for anyone who may not use templates (customers)
    """
    if not permissions.can_use_templates(user):
        raise services.NotAllowed(gettext("Only support agents can reply from templates."), field="template")
    try:
        template = selectors.response_template_get(slug=slug)
    except Http404:
        return None
    return services.template_render(template=template, ticket=ticket)
