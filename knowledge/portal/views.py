"""The help centre (/kb/) and ticket-form suggestions: thin views over the knowledge selectors and services.

Who sees what is decided by ``selectors.article_list_visible_to`` (through
every selector and ``search.article_search`` used here): customers and
anonymous visitors get published public articles only, and an article they may
not see is a 404 exactly like one that does not exist. Article bodies are the
stored, sanitised ``body_html`` (``rendering.mark_rendered``); nothing else is
marked safe here. Every write (votes, suggestion opens) is a POST with CSRF.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from sofacover.errors import DomainError
from tickets.models import Ticket

from .. import search, selectors, services
from ..models import Article
from ..rendering import mark_rendered
from .forms import SearchForm, SuggestionOpenForm, VoteForm

ARTICLES_PER_PAGE = 20
SEARCH_LIMIT = 20
SUGGESTION_LIMIT = 5
TOP_PER_CATEGORY = 3
MOST_HELPFUL = 5
RELATED = 5
# Anonymous visitors' keys of this session's suggestion opens, so a ticket filed after signing in still counts.
SESSION_OPENED_KEYS = "kb_suggestion_keys"
CATEGORY_LABELS = dict(Ticket.Category.choices)


def _vote_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMITS.get("kb_vote_ip", "60/h")


def _visitor_key(request: HttpRequest, *, create: bool) -> str | None:
    """``u:<id>`` when signed in; for anonymous visitors a hash of their session key (made on first write)."""
    if request.user.is_authenticated:
        return selectors.visitor_key(user=request.user, session_key=None)
    if not request.session.session_key:
        if not create:
            return None
        request.session["kb_visitor"] = True  # a non-empty session is saved and gets its cookie
        request.session.save()
    return selectors.visitor_key(user=None, session_key=request.session.session_key)


def _category_or_404(category: str) -> str:
    if category not in CATEGORY_LABELS:
        raise Http404(gettext("No such category."))
    return category


# --- pages ---------------------------------------------------------------------------------


@require_GET
def kb_home(request: HttpRequest) -> HttpResponse:
    counts = selectors.article_category_counts(user=request.user)
    top = selectors.article_list_top_by_category(user=request.user, per_category=TOP_PER_CATEGORY)
    categories = [
        {"value": value, "label": label, "count": counts[value], "articles": top.get(value, [])}
        for value, label in Ticket.Category.choices
        if counts.get(value)
    ]
    context = {
        "categories": categories,
        "most_helpful": selectors.article_list_popular(user=request.user, limit=MOST_HELPFUL),
        "search_form": SearchForm(),
    }
    return render(request, "knowledge/portal/home.html", context)


@require_GET
def kb_category(request: HttpRequest, category: str) -> HttpResponse:
    category = _category_or_404(category)
    articles = (
        selectors.article_list_visible_to(user=request.user)
        .filter(status=Article.Status.PUBLISHED, category=category)
        .order_by("-helpful_yes", "helpful_no", "title", "id")
    )
    page = Paginator(articles, ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "category": {"value": category, "label": CATEGORY_LABELS[category]},
        "page": page,
        "articles": page.object_list,
        "search_form": SearchForm(initial={"category": category}),
    }
    return render(request, "knowledge/portal/category.html", context)


@require_GET
def kb_search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    results: Sequence[search.SearchResult] = []
    corrected = ""
    q = ""
    if form.is_valid():
        q = form.cleaned_data["q"].strip()
        if q:
            found = search.article_search_results(
                user=request.user,
                q=q,
                category=form.cleaned_data["category"] or None,
                limit=SEARCH_LIMIT,
                published_only=True,
            )
            results, corrected = found[:], found.corrected
    status = 200 if form.is_valid() else 400
    context = {"search_form": form, "q": q, "results": results, "corrected": corrected}
    return render(request, "knowledge/portal/search.html", context, status=status)


def _render_article(request: HttpRequest, article: Article, vote_form: VoteForm, status: int = 200) -> HttpResponse:
    key = _visitor_key(request, create=False)
    context = {
        "article": article,
        "body_html": mark_rendered(article.body_html),
        "category_label": CATEGORY_LABELS.get(article.category, article.category),
        "related": selectors.article_list_related(user=request.user, article=article, limit=RELATED),
        "vote_form": vote_form,
        "my_vote": selectors.article_voted_by(article=article, voter_key=key) if key else None,
        "can_vote": article.status == Article.Status.PUBLISHED,
    }
    return render(request, "knowledge/portal/article.html", context, status=status)


@require_GET
def kb_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.article_get_visible_to(user=request.user, slug=slug)
    return _render_article(request, article, VoteForm())


@require_POST
@ratelimit(group="kb.vote", key="ip", rate=_vote_rate, method="POST", block=True)
def kb_vote(request: HttpRequest, slug: str) -> HttpResponse:
    """One answer per visitor per article; answering again replaces the earlier answer (the core's rule)."""
    article = selectors.article_get_visible_to(user=request.user, slug=slug)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return _render_article(request, article, form, status=400)
    try:
        _, created = services.article_vote(
            article=article,
            voter_key=_visitor_key(request, create=True) or "",
            helpful=form.cleaned_data["helpful"],
            comment=form.cleaned_data["comment"],
            user=request.user,
            now=timezone.now(),
        )
    except DomainError as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            return _render_article(request, article, form, status=exc.http_status)
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            gettext_lazy("Thank you for your feedback.")
            if created
            else gettext_lazy("Thank you: we have updated your answer."),
        )
    return redirect(reverse("kb:article", kwargs={"slug": article.slug}) + "#feedback")


# --- suggestions while filing a ticket (deflection) ------------------------------------------


def suggestions_for(request: HttpRequest, subject: str) -> list[search.SearchResult]:
    """Public published articles matching a draft ticket subject: never a runbook, whoever asks."""
    subject = " ".join((subject or "").split())[: cast(forms.CharField, SearchForm.base_fields["q"]).max_length or 200]
    if not subject:
        return []
    return search.article_search(
        user=request.user,
        q=subject,
        audience=Article.Audience.PUBLIC,
        published_only=True,
        limit=SUGGESTION_LIMIT,
        match="any",
    )


def suggestions_render(request: HttpRequest, subject: str, *, fragment: bool = False) -> SafeString:
    """The suggestions panel for the ticket form (support.portal.views) or, ``fragment``, its list only."""
    subject = (subject or "").strip()
    context = {"results": suggestions_for(request, subject), "subject": subject, "fragment": fragment}
    return render_to_string("knowledge/portal/_suggestions.html", context, request=request)


@require_GET
def kb_suggest(request: HttpRequest) -> HttpResponse:
    """The suggestion list as an HTML fragment, for suggest.js (the same markup as the no-JavaScript path)."""
    form = SuggestionOpenForm(request.GET)
    subject = form.cleaned_data["q"] if form.is_valid() else ""
    response = HttpResponse(suggestions_render(request, subject, fragment=True))
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def kb_suggestion_open(request: HttpRequest, slug: str) -> HttpResponse:
    """A suggested article was opened from the ticket form: record it (a candidate deflection), then show it."""
    article = selectors.article_get_visible_to(user=request.user, slug=slug)
    if not article.is_public:
        raise Http404(gettext("No such article."))
    form = SuggestionOpenForm(request.POST)
    key = _visitor_key(request, create=True) or ""
    services.suggestion_opened(
        article=article,
        visitor_key=key,
        query=form.cleaned_data["q"] if form.is_valid() else "",
        user=request.user,
        now=timezone.now(),
    )
    if not request.user.is_authenticated:
        keys = request.session.get(SESSION_OPENED_KEYS, [])
        if key not in keys:
            request.session[SESSION_OPENED_KEYS] = [*keys, key][-5:]
    return redirect("kb:article", slug=article.slug)


def visitor_keys_of(request: HttpRequest) -> list[str]:
    """The keys of suggestion opens made in this session before signing in.

    The portal's ticket form passes them to support.usecases.file_ticket (with the requester's
    own ``u:<id>``, the opens that did not deflect the ticket), then forgets them.
    """
    return request.session.get(SESSION_OPENED_KEYS) or []


def visitor_keys_forget(request: HttpRequest) -> None:
    request.session.pop(SESSION_OPENED_KEYS, None)
