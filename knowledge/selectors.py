"""Every read of the knowledge base, including who may see what.

The visibility rule lives here once: customers and anonymous visitors see
published public articles only; agents see everything. The portal's KB pages,
the API, search, suggestions and related articles all start from
``article_list_visible_to``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext

from tickets.models import Ticket

from . import permissions
from .filters import ArticleFilter
from .models import Article, ArticleRevision, ResponseTemplate, RunbookStepTick, SuggestionOpen, Tag, TicketRunbook
from .rendering import task_steps

ARTICLE_LIST_PREFETCH = (Prefetch("tags", queryset=Tag.objects.order_by("name")),)


def visitor_key(*, user: User | AnonymousUser | None, session_key: str | None) -> str:
    """Who is voting / opening suggestions: ``u:<id>`` when signed in, else a hash of the session key.

    The raw session key is never stored (it is a bearer credential).
    """
    if user is not None and user.is_authenticated:
        return f"u:{user.pk}"
    if not session_key:
        raise ValueError("An anonymous visitor needs a session key.")
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{session_key}".encode()).hexdigest()
    return f"s:{digest}"


def article_list_visible_to(
    *, user: User | AnonymousUser, filters: Mapping[str, str | list[str]] | None = None
) -> QuerySet[Article]:
    """Articles ``user`` may see, with tags prefetched, optionally filtered (see filters.ArticleFilter).

    Customers and anonymous visitors: published public articles only, whatever
    the filters ask for. Agents: everything; ``audience``/``status`` filters narrow.
    """
    # The search vectors are the database's business: a page of 25 would carry ~40 kB of them.
    # No author: no list, page or API shows it (25 user rows, password hashes included, read for nothing).
    articles = Article.objects.prefetch_related(*ARTICLE_LIST_PREFETCH).defer("search_vector", "title_tags_vector")
    if not permissions.can_see_internal(user):
        articles = articles.filter(status=Article.Status.PUBLISHED, audience=Article.Audience.PUBLIC)
    if filters:
        articles = ArticleFilter(filters, queryset=articles, user=user).qs
    return articles


def article_get_visible_to(*, user: User | AnonymousUser, slug: str) -> Article:
    """One article by slug, or 404 when it does not exist *or* ``user`` may not see it (no existence leak).

    :raises Http404:
    """
    article = article_list_visible_to(user=user).filter(slug=slug).first()
    if article is None:
        raise Http404(gettext("No such article."))
    return article


def article_list_popular(*, user: User | AnonymousUser, category: str | None = None, limit: int = 5) -> list[Article]:
    """Most helpful first (the KB home's "most helpful articles")."""
    articles = article_list_visible_to(user=user).filter(status=Article.Status.PUBLISHED)
    if category:
        articles = articles.filter(category=category)
    return list(articles.order_by("-helpful_yes", "helpful_no", "title")[:limit])


def article_category_counts(*, user: User | AnonymousUser) -> dict[str, int]:
    """Published articles per category that ``user`` may see (KB home by category)."""
    rows = (
        article_list_visible_to(user=user)
        .filter(status=Article.Status.PUBLISHED)
        .order_by()
        .values("category")
        .annotate(n=Count("*"))  # not Count("id"): COUNT(*) is answered from the visibility index alone
    )
    return {row["category"]: row["n"] for row in rows}


def article_list_published_to(*, user: User | AnonymousUser) -> QuerySet[Article]:
    """Published articles ``user`` may see, without their tags (suggestions that show titles and snippets)."""
    return article_list_visible_to(user=user).filter(status=Article.Status.PUBLISHED).prefetch_related(None)


def article_list_related(*, user: User | AnonymousUser, article: Article, limit: int = 5) -> list[Article]:
    """Published articles ``user`` may see that share tags or the category with ``article``, most shared tags first.

    Then most helpful, then by title. One query (and the tags' prefetch): the
    ``limit`` best of each kind are picked on ids (tag links; the category and
    helpfulness indexes), and only those few are read whole and ranked, instead
    of grouping the full row of every article in the category.
    """
    tag_ids = [tag.pk for tag in article.tags.all()]
    visible = article_list_visible_to(user=user).filter(status=Article.Status.PUBLISHED).exclude(pk=article.pk)
    same_category = (
        visible.filter(category=article.category).order_by("-helpful_yes", "title", "pk").values("pk")[:limit]
    )
    # Each side wrapped in its own IN: databases without LIMIT inside UNION (SQLite) take it too.
    candidates = Article.objects.filter(pk__in=same_category).order_by().values("pk")
    if tag_ids:
        sharing = (
            visible.filter(tags__in=tag_ids)
            .values("pk")
            .annotate(shared=Count("pk"))
            .order_by("-shared", "-helpful_yes", "title", "pk")
            .values("pk")[:limit]
        )
        candidates = candidates.union(Article.objects.filter(pk__in=sharing).order_by().values("pk"))
    related = (
        visible.filter(pk__in=candidates)
        .annotate(shared=Count("tags", filter=Q(tags__in=tag_ids), distinct=True))
        .order_by("-shared", "-helpful_yes", "title", "pk")
    )
    return list(related[:limit])


def article_revisions(*, article: Article) -> QuerySet[ArticleRevision]:
    return article.revisions.select_related("created_by").order_by("-number")


def revision_get(*, article: Article, number: int) -> ArticleRevision:
    """:raises Http404:"""
    revision = article.revisions.filter(number=number).first()
    if revision is None:
        raise Http404(gettext("No such revision."))
    return revision


# --- runbooks on tickets -----------------------------------------------------------------------


def runbook_steps(*, article: Article) -> list[str]:
    """The runbook's steps: its markdown task-list items, in order (1-based in ticks)."""
    return task_steps(article.body)


def runbook_list_for_category(*, category: str) -> QuerySet[Article]:
    """Published internal runbooks for a ticket category (the console's runbook panel).

    Without the rendered body and the search vectors: the panel lists titles, and the steps come from ``body``.
    """
    return (
        Article.objects.filter(audience=Article.Audience.INTERNAL, status=Article.Status.PUBLISHED, category=category)
        .defer("body_html", "body_text", "search_vector", "title_tags_vector")
        .order_by("title")
    )


@dataclass(frozen=True)
class CategoryArticles:
    faqs: list[Article]  # public, most helpful first
    runbooks: list[Article]  # internal, by title


def article_list_for_category(*, category: str, faq_limit: int) -> CategoryArticles:
    """A ticket category's most helpful public FAQs and its runbooks (the console's panel), in one query.

    The FAQs are those ``article_list_popular`` gives any customer; the runbooks those of
    ``runbook_list_for_category``. Read without tags, rendered bodies or search vectors.
    """
    popular = (
        article_list_visible_to(user=AnonymousUser())
        .filter(status=Article.Status.PUBLISHED, category=category)
        .order_by("-helpful_yes", "helpful_no", "title")
        .values("pk")[:faq_limit]
    )
    runbooks = Q(audience=Article.Audience.INTERNAL, status=Article.Status.PUBLISHED, category=category)
    articles = list(
        Article.objects.filter(Q(pk__in=popular) | runbooks)
        .defer("body_html", "body_text", "search_vector", "title_tags_vector")
        .order_by()
    )
    faqs = sorted((a for a in articles if a.is_public), key=lambda a: (-a.helpful_yes, a.helpful_no, a.title))
    return CategoryArticles(
        faqs=faqs,
        runbooks=sorted((a for a in articles if a.audience == Article.Audience.INTERNAL), key=lambda a: a.title),
    )


@dataclass(frozen=True)
class RunbookStep:
    number: int
    text: str
    tick: RunbookStepTick | None


@dataclass(frozen=True)
class AttachedRunbook:
    ticket_runbook: TicketRunbook
    steps: list[RunbookStep]

    @property
    def done(self) -> bool:
        return all(step.tick is not None for step in self.steps)


def runbook_list_attached(*, ticket: Ticket) -> list[AttachedRunbook]:
    """Runbooks attached to a ticket with each step and its tick (or None), in one query.

    The runbooks joined with their ticks and the ticking users (a LEFT JOIN: one row per tick, one for a
    runbook with none); a runbook's few rows repeat its body, which the steps come from.
    """
    rows = (
        TicketRunbook.objects.filter(ticket=ticket)
        .select_related("article", "attached_by")
        .defer("article__body_html", "article__body_text", "article__search_vector", "article__title_tags_vector")
        .annotate(
            tick_id=F("ticks__id"),
            tick_step=F("ticks__step"),
            tick_text=F("ticks__step_text"),
            tick_at=F("ticks__ticked_at"),
            tick_by_id=F("ticks__ticked_by_id"),
            tick_by_username=F("ticks__ticked_by__username"),
            tick_by_first_name=F("ticks__ticked_by__first_name"),
            tick_by_last_name=F("ticks__ticked_by__last_name"),
        )
        .order_by("attached_at", "id", "ticks__step")
    )
    runbooks: dict[int, TicketRunbook] = {}
    ticks: dict[int, dict[int, RunbookStepTick]] = {}
    for row in rows:
        ticket_runbook = runbooks.setdefault(row.pk, row)
        found = ticks.setdefault(row.pk, {})
        if row.tick_id is not None:
            by = None
            if row.tick_by_id is not None:
                by = User(
                    id=row.tick_by_id,
                    username=row.tick_by_username,
                    first_name=row.tick_by_first_name,
                    last_name=row.tick_by_last_name,
                )
            found[row.tick_step] = RunbookStepTick(
                id=row.tick_id,
                ticket_runbook=ticket_runbook,
                step=row.tick_step,
                step_text=row.tick_text,
                ticked_by=by,
                ticked_at=row.tick_at,
            )
    return [
        AttachedRunbook(
            ticket_runbook=ticket_runbook,
            steps=[
                RunbookStep(number=n, text=text, tick=ticks[pk].get(n))
                for n, text in enumerate(runbook_steps(article=ticket_runbook.article), start=1)
            ],
        )
        for pk, ticket_runbook in runbooks.items()
    ]


# --- response templates ------------------------------------------------------------------------


def response_template_list(*, category: str | None = None) -> QuerySet[ResponseTemplate]:
    """Active templates; those for ``category`` first, then the general ones."""
    templates = ResponseTemplate.objects.filter(active=True)
    if category:
        templates = templates.filter(Q(category=category) | Q(category="")).order_by("-category", "name")
    return templates


def response_template_get(*, slug: str) -> ResponseTemplate:
    """:raises Http404:"""
    template = ResponseTemplate.objects.filter(slug=slug, active=True).first()
    if template is None:
        raise Http404(gettext("No such response template."))
    return template


# --- deflection --------------------------------------------------------------------------------


def deflection_window() -> timedelta:
    return timedelta(hours=settings.KNOWLEDGE_DEFLECTION_WINDOW_HOURS)


@dataclass(frozen=True)
class DeflectionStats:
    opened: int  # suggestion opens in the period
    deflected: int  # ... whose window passed with no ticket filed by the same visitor
    filed: int  # ... followed by a ticket within the window
    pending: int  # ... whose window is still running

    @property
    def rate(self) -> float | None:
        settled = self.deflected + self.filed
        return self.deflected / settled if settled else None


def deflection_stats(*, since: datetime, until: datetime, now: datetime) -> DeflectionStats:
    """Suggestion opens in [since, until), split by outcome as of ``now`` (one query)."""
    settled_before = now - deflection_window()
    row = SuggestionOpen.objects.filter(opened_at__gte=since, opened_at__lt=until).aggregate(
        opened=Count("id"),
        filed=Count("id", filter=Q(ticket_filed_at__isnull=False)),
        deflected=Count("id", filter=Q(ticket_filed_at__isnull=True, opened_at__lte=settled_before)),
        pending=Count("id", filter=Q(ticket_filed_at__isnull=True, opened_at__gt=settled_before)),
    )
    return DeflectionStats(**row)


def deflection_count(*, since: datetime, until: datetime, now: datetime) -> int:
    """Suggestions opened in [since, until) with no ticket filed by that visitor within the window."""
    return deflection_stats(since=since, until=until, now=now).deflected


# --- portal and console ---


def article_list_top_by_category(*, user: User | AnonymousUser, per_category: int = 3) -> dict[str, list[Article]]:
    """The most helpful published articles ``user`` may see, ``per_category`` per category (KB home), one query.

    Each category's few are picked on ids (the helpfulness index, a handful of rows per
    category) and only those are read: ranking every article of every category with a
    window function sorted thousands of whole rows.
    """
    published = article_list_visible_to(user=user).filter(status=Article.Status.PUBLISHED)
    order = ("-helpful_yes", "helpful_no", "title", "pk")
    # Each pick wrapped in its own IN: databases without LIMIT inside UNION (SQLite) take it too.
    picks = [
        Article.objects.filter(pk__in=published.filter(category=value).order_by(*order).values("pk")[:per_category])
        .order_by()
        .values("pk")
        for value in Article.Category.values
    ]
    ranked = published.filter(pk__in=picks[0].union(*picks[1:])).prefetch_related(None).order_by("category", *order)
    grouped: dict[str, list[Article]] = {}
    for article in ranked:
        grouped.setdefault(article.category, []).append(article)
    return grouped


def article_voted_by(*, article: Article, voter_key: str) -> bool | None:
    """The visitor's current answer to "was this helpful?" on ``article`` (None: not answered)."""
    from .models import ArticleVote

    return ArticleVote.objects.filter(article=article, voter_key=voter_key).values_list("helpful", flat=True).first()


def ticket_runbook_get(*, ticket: Ticket, pk: int) -> TicketRunbook:
    """A runbook attached to ``ticket`` (an id from another ticket is a 404). :raises Http404:"""
    ticket_runbook = TicketRunbook.objects.select_related("article", "ticket").filter(pk=pk, ticket=ticket).first()
    if ticket_runbook is None:
        raise Http404(gettext("No such runbook on this ticket."))
    return ticket_runbook
