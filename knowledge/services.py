"""Every state change of the knowledge base. The admin, the API, the portal and commands call these.

Each function takes ``now`` from its caller and runs in one transaction. A
save of an article writes, together: the article row, its sanitised rendering
(body_html), its search index entry and a revision with the full content.
A rule that refuses a change raises a DomainError (nothing written).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils.text import slugify
from django.utils.translation import gettext

from sofacover.dbutil import column_of
from sofacover.errors import Conflict, DomainError
from tickets import services as ticket_services
from tickets.models import Ticket, TicketEvent

from . import permissions, search, selectors
from .models import (
    Article,
    ArticleRevision,
    ArticleVote,
    ResponseTemplate,
    RunbookStepTick,
    SuggestionOpen,
    Tag,
    TicketRunbook,
)
from .rendering import html_to_text, render_markdown
from .templating import render_source, ticket_context

MAX_TAGS = 20
MAX_TITLE = 200
MAX_BODY = 100_000
MAX_COMMENT = 1000
CONTENT_FIELDS = ("title", "body", "audience", "category", "status", "tags", "slug")
# Path segments of /api/v1/articles/... and /kb/... that an article slug would shadow.
RESERVED_SLUGS = frozenset({"suggest", "search", "category", "categories", "tags", "feed", "sitemap"})


class NotAllowed(DomainError):
    code = "not_allowed"
    http_status = 403


class AlreadyAttached(Conflict):
    code = "runbook_already_attached"


class NotPublished(Conflict):
    code = "not_published"


class TicketClosed(Conflict):
    code = "ticket_closed"


# --- articles ------------------------------------------------------------------------------


def _clean_title(title: str) -> str:
    title = " ".join((title or "").replace("\x00", "").split())
    if not title:
        raise DomainError(gettext("A title is required."), field="title")
    if len(title) > MAX_TITLE:
        raise DomainError(gettext("At most %(count)s characters.") % {"count": MAX_TITLE}, field="title")
    return title


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").replace("\x00", "")
    if not body.strip():
        raise DomainError(gettext("A body is required."), field="body")
    if len(body) > MAX_BODY:
        raise DomainError(gettext("At most %(count)s characters.") % {"count": MAX_BODY}, field="body")
    return body


def _clean_choice(value: str, choices: Iterable[str], field: str) -> str:
    if value not in set(choices):
        raise DomainError(
            gettext("“%(value)s” is not one of %(names)s.") % {"value": value, "names": ", ".join(choices)}, field=field
        )
    return value


def _clean_tags(names: Iterable[str]) -> list[str]:
    """Tag names, stripped and de-duplicated by slug, in the order given."""
    seen: dict[str, str] = {}
    for raw in names:
        name = " ".join(str(raw).split())
        slug = slugify(name)
        if not slug or len(name) > 50:
            raise DomainError(
                gettext("“%(raw)s” is not a usable tag (letters or digits, at most 50 characters).") % {"raw": raw},
                field="tags",
            )
        seen.setdefault(slug, name)
    if len(seen) > MAX_TAGS:
        raise DomainError(gettext("At most %(count)s tags.") % {"count": MAX_TAGS}, field="tags")
    return list(seen.values())


def _clean_slug(slug: str, *, article: Article | None) -> str:
    slug = (slug or "").strip().lower()
    if not slug or slug != slugify(slug) or len(slug) > 200:
        raise DomainError(gettext("Use lowercase letters, digits and hyphens (at most 200)."), field="slug")
    if slug in RESERVED_SLUGS:
        raise DomainError(gettext("“%(slug)s” is reserved; choose another slug.") % {"slug": slug}, field="slug")
    taken = Article.objects.filter(slug=slug)
    if article is not None:
        taken = taken.exclude(pk=article.pk)
    if taken.exists():
        raise DomainError(
            gettext("The slug “%(slug)s” is already used by another article.") % {"slug": slug}, field="slug"
        )
    return slug


def _free_slug(title: str) -> str:
    base = slugify(title)[:190] or "article"
    if base in RESERVED_SLUGS:
        base = f"{base}-article"
    taken = set(Article.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _tags_for(names: Sequence[str]) -> list[Tag]:
    tags = []
    for name in names:
        tag, _ = Tag.objects.get_or_create(slug=slugify(name), defaults={"name": name})
        tags.append(tag)
    return tags


def _tag_names(article: Article) -> list[str]:
    return sorted(tag.name for tag in article.tags.all())


def _render_into(article: Article, tag_names: Sequence[str]) -> None:
    article.body_html = render_markdown(article.body)
    article.body_text = html_to_text(article.body_html)
    article.tag_text = " ".join(tag_names)[:1000]


def _revise(article: Article, *, actor: User | None, now: datetime, note: str) -> ArticleRevision:
    last = article.revisions.aggregate(n=Max("number"))["n"] or 0
    return ArticleRevision.objects.create(
        article=article,
        number=last + 1,
        title=article.title,
        body=article.body,
        audience=article.audience,
        category=article.category,
        status=article.status,
        tags=_tag_names(article),
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_at=now,
        note=note[:200],
    )


def _normalise(values: dict[str, Any], *, article: Article | None) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "title" in values:
        clean["title"] = _clean_title(values["title"])
    if "body" in values:
        clean["body"] = _clean_body(values["body"])
    if "audience" in values:
        clean["audience"] = _clean_choice(values["audience"], Article.Audience.values, "audience")
    if "category" in values:
        clean["category"] = _clean_choice(values["category"], Ticket.Category.values, "category")
    if "status" in values:
        clean["status"] = _clean_choice(values["status"], Article.Status.values, "status")
    if "tags" in values:
        clean["tags"] = _clean_tags(values["tags"] or [])
    if values.get("slug"):
        clean["slug"] = _clean_slug(values["slug"], article=article)
    unknown = set(values) - set(CONTENT_FIELDS)
    if unknown:
        raise DomainError(gettext("Unknown article fields: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    return clean


def article_check(*, article: Article | None, **values: Any) -> None:
    """Validate article values without saving (forms call this to show field errors).

    :raises DomainError: for an invalid value, naming the field
    """
    _normalise(values, article=article)


def article_changes(article: Article, **values: Any) -> dict[str, Any]:
    """The normalised values that differ from the article (empty: saving would change nothing).

    :raises DomainError: for an invalid value, naming the field
    """
    clean = _normalise(values, article=article)
    changes = {}
    for field, value in clean.items():
        current = _tag_names(article) if field == "tags" else getattr(article, field)
        if field == "tags":
            if sorted(slugify(v) for v in value) != sorted(slugify(v) for v in current):
                changes[field] = value
        elif value != current:
            changes[field] = value
    return changes


@transaction.atomic
def article_create(
    *,
    actor: User | None,
    title: str,
    body: str,
    now: datetime,
    audience: str = Article.Audience.PUBLIC,
    category: str = Ticket.Category.OTHER,
    status: str = Article.Status.DRAFT,
    tags: Sequence[str] = (),
    slug: str = "",
    note: str = "",
) -> Article:
    """Create an article with its rendering, search entry and revision 1.

    :raises DomainError: for an invalid field (named), or a slug already taken
    """
    values = _normalise(
        {"title": title, "body": body, "audience": audience, "category": category, "status": status, "tags": tags},
        article=None,
    )
    tag_names = values.pop("tags")
    article = Article(
        **values,
        slug=_clean_slug(slug, article=None) if slug else _free_slug(values["title"]),
        author=actor if actor is not None and actor.is_authenticated else None,
        created_at=now,
        updated_at=now,
        published_at=now if values["status"] == Article.Status.PUBLISHED else None,
    )
    _render_into(article, tag_names)
    try:
        with transaction.atomic():
            article.save()
    except IntegrityError as exc:  # lost a race for the slug
        raise DomainError(
            gettext("The slug “%(slug)s” is already used by another article.") % {"slug": article.slug}, field="slug"
        ) from exc
    article.tags.set(_tags_for(tag_names))
    _revise(article, actor=actor, now=now, note=note or "created")
    search.index_article(article)
    return article


@transaction.atomic
def article_update(*, article: Article, actor: User | None, now: datetime, note: str = "", **values: Any) -> Article:
    """Apply edits (title, body, audience, category, status, tags, slug); a new revision if anything changed.

    Saving the same content again writes nothing (no revision, same updated_at).

    :raises DomainError: for an invalid field (named), or a slug already taken
    """
    article = Article.objects.select_for_update().get(pk=article.pk)
    changes = article_changes(article, **values)
    if not changes:
        return article
    tag_names = changes.pop("tags", None)
    for field, value in changes.items():
        setattr(article, field, value)
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = now
    article.updated_at = now
    if tag_names is not None:
        article.tags.set(_tags_for(tag_names))
    _render_into(article, tag_names if tag_names is not None else _tag_names(article))
    article.save()
    _revise(article, actor=actor, now=now, note=note or "edited")
    search.index_article(article)
    return article


def article_restore(*, revision: ArticleRevision, actor: User | None, now: datetime) -> Article:
    """Make a revision's content current again, as a new revision (history is never rewritten)."""
    return article_update(
        article=revision.article,
        actor=actor,
        now=now,
        note=f"restored revision {revision.number}",
        title=revision.title,
        body=revision.body,
        audience=revision.audience,
        category=revision.category,
        status=revision.status,
        tags=revision.tags,
    )


@transaction.atomic
def article_delete(*, article: Article) -> None:
    """Delete for good (admins); prefer status=archived. Refused while a ticket uses it as a runbook."""
    if TicketRunbook.objects.filter(article=article).exists():
        raise Conflict(gettext("This runbook is attached to tickets; archive it instead."))
    article_id = article.pk
    article.delete()
    search.unindex_article(article_id)


# --- votes ---------------------------------------------------------------------------------


@transaction.atomic
def article_vote(
    *,
    article: Article,
    voter_key: str,
    helpful: bool,
    now: datetime,
    user: User | AnonymousUser | None = None,
    comment: str = "",
) -> tuple[ArticleVote, bool]:
    """Record a visitor's answer to "was this helpful?"; a second answer replaces the first.

    Returns (vote, created). The article's counters always equal the latest
    answer of each visitor.

    :raises NotPublished: for an article that is not published
    """
    if article.status != Article.Status.PUBLISHED:
        raise NotPublished(gettext("Only published articles take votes."))
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(gettext("At most %(count)s characters.") % {"count": MAX_COMMENT}, field="comment")
    user_obj = user if user is not None and user.is_authenticated else None
    counter = "helpful_yes" if helpful else "helpful_no"
    try:
        with transaction.atomic():
            vote = ArticleVote.objects.create(
                article=article,
                voter_key=voter_key,
                user=user_obj,
                helpful=helpful,
                comment=comment,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        vote = ArticleVote.objects.select_for_update().get(article=article, voter_key=voter_key)
        if vote.helpful != helpful:
            previous = "helpful_yes" if vote.helpful else "helpful_no"
            Article.objects.filter(pk=article.pk).update(**{previous: F(previous) - 1, counter: F(counter) + 1})
        vote.helpful, vote.comment, vote.updated_at = helpful, comment, now
        vote.save(update_fields=["helpful", "comment", "updated_at"])
        article.refresh_from_db(fields=["helpful_yes", "helpful_no"])
        return vote, False
    Article.objects.filter(pk=article.pk).update(**{counter: F(counter) + 1})
    article.refresh_from_db(fields=["helpful_yes", "helpful_no"])
    return vote, True


# --- deflection ----------------------------------------------------------------------------


def suggestion_opened(
    *,
    article: Article,
    visitor_key: str,
    now: datetime,
    query: str = "",
    user: User | AnonymousUser | None = None,
) -> SuggestionOpen:
    """A visitor opened a suggested article while writing a ticket (a candidate deflection)."""
    if article.status != Article.Status.PUBLISHED:
        raise NotPublished(gettext("Only published articles are suggested."))
    return SuggestionOpen.objects.create(
        article=article,
        visitor_key=visitor_key,
        user=user if user is not None and user.is_authenticated else None,
        query=" ".join(query.split())[:200],
        opened_at=now,
    )


def suggestion_ticket_filed(*, ticket: Ticket, now: datetime, visitor_keys: Sequence[str] = ()) -> int:
    """The visitor filed a ticket: their suggestion opens within the window did not deflect it.

    Called for every new ticket (tickets' signal) with the requester's key; the
    portal may pass its session's key too. Returns the number of opens linked.
    """
    keys = sorted({f"u:{ticket.requester_id}", *visitor_keys})
    # Every ticket filed runs this, nearly always to match nothing: one statement written out
    # once costs a tenth of what compiling the equivalent QuerySet.update() costs per call.
    meta = SuggestionOpen._meta
    column = {name: connection.ops.quote_name(column_of(SuggestionOpen, name)) for name in _FILED_COLUMNS}
    when = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(meta.db_table)} "
            f"SET {column['ticket']} = %s, {column['ticket_filed_at']} = %s "
            f"WHERE {column['visitor_key']} IN ({', '.join(['%s'] * len(keys))}) "
            f"AND {column['ticket_filed_at']} IS NULL "
            f"AND {column['opened_at']} >= %s AND {column['opened_at']} <= %s",
            [ticket.pk, when(now), *keys, when(now - selectors.deflection_window()), when(now)],
        )
        return cursor.rowcount


_FILED_COLUMNS = ("ticket", "ticket_filed_at", "visitor_key", "opened_at")


# --- runbooks on tickets -------------------------------------------------------------------


def _check_runbook_actor(actor: User, ticket: Ticket) -> None:
    if not permissions.can_work_runbooks(actor):
        raise NotAllowed(gettext("Only support agents can work runbooks."))
    if ticket.status == Ticket.Status.CLOSED:
        raise TicketClosed(gettext("This ticket is closed."))


def _event_text(text: str) -> str:
    return text if len(text) <= 200 else text[:199] + "…"


@transaction.atomic
def runbook_attach(*, ticket: Ticket, article: Article, actor: User, now: datetime) -> TicketRunbook:
    """Attach a published runbook with steps to a ticket; the timeline says so.

    :raises NotAllowed: if ``actor`` is not an agent
    :raises AlreadyAttached: if the runbook is already on the ticket
    :raises DomainError: if the article is not published or has no task-list steps
    """
    _check_runbook_actor(actor, ticket)
    if article.status != Article.Status.PUBLISHED:
        raise NotPublished(gettext("Only published runbooks can be attached."), field="article")
    if not selectors.runbook_steps(article=article):
        raise DomainError(gettext("This article has no steps (markdown task list items) to follow."), field="article")
    try:
        with transaction.atomic():
            attached = TicketRunbook.objects.create(ticket=ticket, article=article, attached_by=actor, attached_at=now)
    except IntegrityError as exc:
        raise AlreadyAttached(gettext("This runbook is already attached to the ticket."), field="article") from exc
    ticket_services.timeline_record(
        ticket=ticket, actor=actor, kind=TicketEvent.Kind.RUNBOOK_ATTACHED, now=now, new=_event_text(article.title)
    )
    return attached


@transaction.atomic
def runbook_step_tick(*, ticket_runbook: TicketRunbook, step: int, actor: User, now: datetime) -> RunbookStepTick:
    """Tick step ``step`` (1-based) of an attached runbook; ticking a ticked step changes nothing.

    :raises DomainError: for a step the runbook does not have
    """
    ticket = ticket_runbook.ticket
    _check_runbook_actor(actor, ticket)
    steps = selectors.runbook_steps(article=ticket_runbook.article)
    if not 1 <= step <= len(steps):
        raise DomainError(gettext("This runbook has steps 1 to %(count)s.") % {"count": len(steps)}, field="step")
    existing = RunbookStepTick.objects.filter(ticket_runbook=ticket_runbook, step=step).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            tick = RunbookStepTick.objects.create(
                ticket_runbook=ticket_runbook,
                step=step,
                step_text=steps[step - 1][:500],
                ticked_by=actor,
                ticked_at=now,
            )
    except IntegrityError:  # a colleague ticked it at the same moment
        return RunbookStepTick.objects.get(ticket_runbook=ticket_runbook, step=step)
    ticket_services.timeline_record(
        ticket=ticket,
        actor=actor,
        kind=TicketEvent.Kind.RUNBOOK_STEP,
        now=now,
        new=_event_text(f"Ticked step {step} of {ticket_runbook.article.title}: {tick.step_text}"),
    )
    return tick


@transaction.atomic
def runbook_step_untick(*, ticket_runbook: TicketRunbook, step: int, actor: User, now: datetime) -> bool:
    """Untick a step; returns False (and records nothing) if it was not ticked."""
    ticket = ticket_runbook.ticket
    _check_runbook_actor(actor, ticket)
    tick = RunbookStepTick.objects.select_for_update().filter(ticket_runbook=ticket_runbook, step=step).first()
    if tick is None:
        return False
    text = tick.step_text
    tick.delete()
    ticket_services.timeline_record(
        ticket=ticket,
        actor=actor,
        kind=TicketEvent.Kind.RUNBOOK_STEP,
        now=now,
        old=_event_text(f"Ticked step {step}: {text}"),
        new=_event_text(f"Unticked step {step} of {ticket_runbook.article.title}: {text}"),
    )
    return True


# --- response templates --------------------------------------------------------------------


@transaction.atomic
def response_template_save(
    *,
    actor: User | None,
    now: datetime,
    slug: str,
    name: str,
    body: str,
    category: str = "",
    active: bool = True,
    template: ResponseTemplate | None = None,
) -> ResponseTemplate:
    """Create (``template=None``) or update a response template; unknown placeholders are refused.

    :raises DomainError: naming the field (an unknown placeholder or any tag in the body, a taken slug)
    """
    if template is None:
        template = ResponseTemplate(created_by=actor if actor and actor.is_authenticated else None, created_at=now)
    template.slug, template.name, template.body = slug, name, body
    template.category, template.active, template.updated_at = category, active, now
    try:
        template.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(" ".join(messages), field=None if field == "__all__" else field) from exc
    template.save()
    return template


def template_render(*, template: ResponseTemplate, ticket: Ticket) -> str:
    """The template's markdown with the ticket's placeholder values filled in (plain strings only)."""
    return render_source(template.body, ticket_context(ticket))
