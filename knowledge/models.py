"""Articles (public FAQs and internal runbooks), their revisions and votes,
deflection records, runbooks attached to tickets and response templates.

Fields, choices, constraints and indexes only: every state change lives in
services.py, every read (including who may see what) in selectors.py.

Search: ``search_vector`` and ``title_tags_vector`` (PostgreSQL tsvectors) and
``body_text``/``tag_text`` are written by the services, never by hand. The GIN
indexes on PostgreSQL and the FTS5 table on SQLite are created by migrations
0002 and 0005, vendor-guarded, so they are not declared in Meta.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from tickets.models import Ticket


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    class Audience(models.TextChoices):
        PUBLIC = "public", gettext_lazy("Public (FAQ)")
        INTERNAL = "internal", gettext_lazy("Internal (runbook)")

    class Status(models.TextChoices):
        DRAFT = "draft", gettext_lazy("Draft")
        PUBLISHED = "published", gettext_lazy("Published")
        ARCHIVED = "archived", gettext_lazy("Archived")

    # The same categories as tickets, so a ticket finds the runbooks for its category.
    Category = Ticket.Category

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    body = models.TextField(max_length=100_000, help_text=gettext_lazy("Markdown."))
    # The sanitised rendering of ``body`` (knowledge/rendering.py), refreshed by every save service.
    body_html = models.TextField(blank=True, editable=False)
    # Plain text of the rendering and the tag names: what search indexes and snippets quote.
    body_text = models.TextField(blank=True, editable=False)
    tag_text = models.CharField(max_length=1000, blank=True, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)
    # Title and tags only, unweighted: finds the matches that rank above any body-only match (search._pg_ranked).
    title_tags_vector = SearchVectorField(null=True, editable=False)
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.PUBLIC)
    category = models.CharField(max_length=20, choices=Ticket.Category.choices, default=Ticket.Category.OTHER)
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # The first time the article was published; kept through later edits.
    published_at = models.DateTimeField(null=True, blank=True)
    helpful_yes = models.PositiveIntegerField(default=0)
    helpful_no = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["title", "id"]
        indexes = [
            models.Index(fields=["status", "audience", "category"], name="article_visible_idx"),
            models.Index(fields=["category", "status"], name="article_category_idx"),
            models.Index(fields=["-updated_at"], name="article_updated_idx"),
            # Search candidates and "most helpful" lists walk this instead of sorting every match.
            models.Index(fields=["-helpful_yes", "id"], name="article_helpful_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(audience__in=["public", "internal"]), name="article_audience_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published", "archived"]), name="article_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="article_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        """Visible to customers and anonymous visitors."""
        return self.status == self.Status.PUBLISHED and self.audience == self.Audience.PUBLIC


class ArticleRevision(models.Model):
    """The full content of an article after one save; number 1 is the first version."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=100_000)
    audience = models.CharField(max_length=10, choices=Article.Audience.choices)
    category = models.CharField(max_length=20, choices=Ticket.Category.choices)
    status = models.CharField(max_length=10, choices=Article.Status.choices)
    tags = models.JSONField(default=list, help_text=gettext_lazy("Tag names at the time of the revision."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    # "restored from revision 3", "synced from runbooks/payment.md", ...
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["article", "-number"]
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="revision_number_unique")]

    def __str__(self) -> str:
        return f"{self.article_id} revision {self.number}"


class ArticleVote(models.Model):
    """One "was this helpful?" answer per visitor per article; a second answer replaces the first."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    # "u:<user id>" for signed-in users, "s:<sha256 of the session key>" for anonymous visitors.
    voter_key = models.CharField(max_length=80)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    helpful = models.BooleanField()
    comment = models.TextField(max_length=1000, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-updated_at", "id"]
        constraints = [models.UniqueConstraint(fields=["article", "voter_key"], name="vote_one_per_visitor")]

    def __str__(self) -> str:
        return f"{'yes' if self.helpful else 'no'} on {self.article_id}"


class SuggestionOpen(models.Model):
    """A visitor opened a suggested article while writing a ticket.

    ``ticket`` is set when the same visitor files a ticket within
    settings.KNOWLEDGE_DEFLECTION_WINDOW; an open with no ticket once the
    window has passed counts as a deflection.
    """

    visitor_key = models.CharField(max_length=80)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="suggestion_opens")
    query = models.CharField(max_length=200, blank=True)
    opened_at = models.DateTimeField()
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    ticket_filed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("opened suggestion")
        verbose_name_plural = gettext_lazy("opened suggestions")
        ordering = ["-opened_at", "id"]
        indexes = [
            models.Index(fields=["visitor_key", "opened_at"], name="suggestion_visitor_idx"),
            models.Index(fields=["opened_at"], name="suggestion_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.visitor_key} opened {self.article_id}"


class TicketRunbook(models.Model):
    """An internal runbook an agent attached to a ticket to follow its steps."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="runbooks")
    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="ticket_runbooks")
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attached_at = models.DateTimeField()

    class Meta:
        ordering = ["attached_at", "id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "article"], name="runbook_once_per_ticket")]

    def __str__(self) -> str:
        return f"{self.article_id} on ticket {self.ticket_id}"


class RunbookStepTick(models.Model):
    """One ticked step of an attached runbook. Unticking deletes the row (the timeline keeps both)."""

    ticket_runbook = models.ForeignKey(TicketRunbook, on_delete=models.CASCADE, related_name="ticks")
    # 1-based position of the step among the runbook's task-list items.
    step = models.PositiveSmallIntegerField()
    # The step's text when it was ticked: the runbook may be edited later.
    step_text = models.CharField(max_length=500)
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ticked_at = models.DateTimeField()

    class Meta:
        ordering = ["step"]
        constraints = [
            models.UniqueConstraint(fields=["ticket_runbook", "step"], name="runbook_step_once"),
            models.CheckConstraint(condition=Q(step__gte=1), name="runbook_step_positive"),
        ]

    def __str__(self) -> str:
        return f"step {self.step} of {self.ticket_runbook_id}"


class ResponseTemplate(models.Model):
    """An agent's canned reply: markdown with the named placeholders of knowledge/templating.py.

    Unknown placeholders and any template tag are refused by ``clean`` (admin
    and the save service both run it).
    """

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    body = models.TextField(max_length=20_000, help_text=gettext_lazy("Markdown with {{ placeholders }}."))
    # Suggested first for tickets of this category; blank for every category.
    category = models.CharField(max_length=20, choices=Ticket.Category.choices, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .templating import validate_template_source

        validate_template_source(self.body, field="body")
